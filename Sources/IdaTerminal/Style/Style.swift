/// Colours and attributes of one cell.
public struct Style: Hashable, Sendable {
    /// Foreground colour.
    public var fg: Color
    /// Background colour.
    public var bg: Color
    /// Bold (often also "bright") text.
    public var bold: Bool
    /// Dim text.
    public var dim: Bool
    /// Swapped foreground and background.
    public var reverse: Bool
    /// Underlined text.
    public var underline: Bool

    /// Creates a style; everything defaults to the terminal's plain text.
    public init(fg: Color = .default, bg: Color = .default, bold: Bool = false,
                dim: Bool = false, reverse: Bool = false, underline: Bool = false) {
        self.fg = fg
        self.bg = bg
        self.bold = bold
        self.dim = dim
        self.reverse = reverse
        self.underline = underline
    }

    /// The terminal's default colours, no attributes.
    public static let plain = Style()

    /// A copy with another foreground colour.
    public func foreground(_ color: Color) -> Style {
        var copy = self
        copy.fg = color
        return copy
    }

    /// A copy with another background colour.
    public func background(_ color: Color) -> Style {
        var copy = self
        copy.bg = color
        return copy
    }

    /// The style a terminal with `mode` can show: 256-colour indices fall to the nearest ANSI
    /// colour, bright foregrounds to bold base colours in 8-colour mode, colours vanish in monochrome.
    public func adapted(to mode: ColorMode) -> Style {
        var copy = self
        switch mode {
        case .c256:
            break
        case .eight:
            let fg = fg.nearestANSI.dimmedToBase
            copy.fg = fg.color
            copy.bold = bold || fg.wasBright
            copy.bg = bg.nearestANSI.dimmedToBase.color
        case .monochrome:
            copy.fg = .default
            copy.bg = .default
        }
        return copy
    }
}
