/// How a cell buffer is drawn as SVG (`ScreenBuffer.svg()`): the grid, the font and the colours of a
/// dark terminal. Every value here is documented in docs/format.md, "Frames as SVG".
public enum SVGFrame {
    /// Width of one cell in px (a 0.6 em monospace advance at `fontSize`).
    public static let cellWidth = 9
    /// Height of one row in px.
    public static let cellHeight = 18
    /// Font size in px.
    public static let fontSize = 15
    /// From a row's top to the text's baseline in px (ascent of a 15 px monospace font, centred in 18).
    public static let baseline = 14
    /// Monospace fonts, in order of preference (single quotes: the value sits in a double-quoted attribute).
    public static let fontFamily = "'DejaVu Sans Mono', 'Liberation Mono', Menlo, Consolas, monospace"
    /// The terminal's default foreground: xterm's grey 252.
    public static let defaultForeground = RGB(paletteIndex: 252)
    /// The terminal's default background: xterm's grey 234.
    public static let defaultBackground = RGB(paletteIndex: 234)

    /// An sRGB colour, 0-255 a channel.
    public struct RGB: Hashable, Sendable {
        /// Red.
        public var red: Int
        /// Green.
        public var green: Int
        /// Blue.
        public var blue: Int

        /// Creates a colour from its channels.
        public init(red: Int, green: Int, blue: Int) {
            self.red = red
            self.green = green
            self.blue = blue
        }

        /// xterm's default value for a palette index (the 16 ANSI colours, the 6x6x6 cube, the greys).
        public init(paletteIndex index: Int) {
            let (r, g, b) = Color.rgb(index: min(max(index, 0), 255))
            self.init(red: r, green: g, blue: b)
        }

        /// The colour halfway to `other`, channel by channel (rounded down): how dim text is drawn.
        public func halfway(to other: RGB) -> RGB {
            RGB(red: (red + other.red) / 2, green: (green + other.green) / 2, blue: (blue + other.blue) / 2)
        }

        /// "#rrggbb", lower case.
        public var hex: String {
            let digits = Array("0123456789abcdef")
            var out = "#"
            for channel in [red, green, blue] {
                let v = min(max(channel, 0), 255)
                out.append(digits[v / 16])
                out.append(digits[v % 16])
            }
            return out
        }
    }

    /// What one cell looks like once the terminal's rules are applied.
    public struct Look: Hashable, Sendable {
        /// Colour of the glyph (and of the underline).
        public var foreground: RGB
        /// Colour of the cell.
        public var background: RGB
        /// Bold glyph.
        public var bold: Bool
        /// A line under the cell.
        public var underline: Bool
    }

    /// The look of `style`: `.default` is the dark theme's foreground or background, reverse swaps the
    /// two, dim draws the (swapped) foreground halfway to the background; bold and underline stay
    /// attributes (bold does not brighten a colour).
    public static func look(of style: Style) -> Look {
        var fg = style.fg.paletteIndex.map { RGB(paletteIndex: $0) } ?? defaultForeground
        var bg = style.bg.paletteIndex.map { RGB(paletteIndex: $0) } ?? defaultBackground
        if style.reverse { swap(&fg, &bg) }
        if style.dim { fg = fg.halfway(to: bg) }
        return Look(foreground: fg, background: bg, bold: style.bold, underline: style.underline)
    }
}
