/// The colour and glyph capabilities a widget renders for.
public struct DisplayMode: Hashable, Sendable {
    /// Colours available.
    public var colors: ColorMode
    /// Characters available.
    public var glyphs: GlyphMode

    /// Creates a display mode.
    public init(colors: ColorMode, glyphs: GlyphMode) {
        self.colors = colors
        self.glyphs = glyphs
    }

    /// 256 colours and Unicode glyphs.
    public static let full = DisplayMode(colors: .c256, glyphs: .unicode)
    /// No colour and ASCII only: the most conservative terminal.
    public static let plain = DisplayMode(colors: .monochrome, glyphs: .ascii)

    /// Whether the mode allows Unicode glyphs.
    public var unicode: Bool { glyphs == .unicode }
}
