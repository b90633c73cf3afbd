/// The colour and glyph capabilities a widget renders for.
public struct DisplayMode: Hashable, Sendable {
    /// Colours available.
    public var colors: ColorMode
    /// Characters available.
    public var glyphs: GlyphMode
    /// Whether the frame is read as text (a headless frame printed to standard output): styles are
    /// lost there, so what colour alone shows (a heatmap's cells) is drawn in glyphs as well.
    public var textOnly: Bool

    /// Creates a display mode.
    public init(colors: ColorMode, glyphs: GlyphMode, textOnly: Bool = false) {
        self.colors = colors
        self.glyphs = glyphs
        self.textOnly = textOnly
    }

    /// 256 colours and Unicode glyphs.
    public static let full = DisplayMode(colors: .c256, glyphs: .unicode)
    /// No colour and ASCII only: the most conservative terminal.
    public static let plain = DisplayMode(colors: .monochrome, glyphs: .ascii)

    /// Whether the mode allows Unicode glyphs.
    public var unicode: Bool { glyphs == .unicode }
}
