/// How many colours the terminal can show; widgets and the backend degrade to it.
public enum ColorMode: Hashable, Sendable, CaseIterable {
    /// No colour: attributes (bold, reverse...) and glyphs only.
    case monochrome
    /// The 8 ANSI colours (bright variants become bold).
    case eight
    /// The xterm 256-colour palette.
    case c256

    /// Chooses a mode from the terminal's colour count and the environment (`NO_COLOR` wins).
    public static func detect(colors: Int, environment: [String: String]) -> ColorMode {
        if let noColor = environment["NO_COLOR"], !noColor.isEmpty { return .monochrome }
        if colors >= 256 { return .c256 }
        if colors >= 8 { return .eight }
        return .monochrome
    }
}
