/// A terminal colour: the terminal's default, one of the 16 ANSI colours, or a 256-colour palette index.
public enum Color: Hashable, Sendable {
    /// The terminal's own foreground or background colour.
    case `default`
    /// ANSI colour 0.
    case black
    /// ANSI colour 1.
    case red
    /// ANSI colour 2.
    case green
    /// ANSI colour 3.
    case yellow
    /// ANSI colour 4.
    case blue
    /// ANSI colour 5.
    case magenta
    /// ANSI colour 6.
    case cyan
    /// ANSI colour 7.
    case white
    /// ANSI colour 8.
    case brightBlack
    /// ANSI colour 9.
    case brightRed
    /// ANSI colour 10.
    case brightGreen
    /// ANSI colour 11.
    case brightYellow
    /// ANSI colour 12.
    case brightBlue
    /// ANSI colour 13.
    case brightMagenta
    /// ANSI colour 14.
    case brightCyan
    /// ANSI colour 15.
    case brightWhite
    /// An entry of the xterm 256-colour palette (0-15 are the ANSI colours).
    case indexed(UInt8)

    /// The 16 ANSI colours in palette order.
    public static let ansi: [Color] = [
        .black, .red, .green, .yellow, .blue, .magenta, .cyan, .white,
        .brightBlack, .brightRed, .brightGreen, .brightYellow,
        .brightBlue, .brightMagenta, .brightCyan, .brightWhite,
    ]

    /// The palette index (0-255), or nil for `.default`.
    public var paletteIndex: Int? {
        switch self {
        case .default: return nil
        case .indexed(let n): return Int(n)
        default: return Color.ansi.firstIndex(of: self)
        }
    }

    /// Creates the colour for a palette index; indices below 16 give the named ANSI case.
    public init(paletteIndex n: UInt8) {
        self = n < 16 ? Color.ansi[Int(n)] : .indexed(n)
    }

    /// The nearest of the 16 ANSI colours (xterm's default RGB values), or `.default`.
    public var nearestANSI: Color {
        guard let index = paletteIndex else { return .default }
        if index < 16 { return Color.ansi[index] }
        let rgb = Color.rgb(index: index)
        var best = 0
        var bestDistance = Int.max
        for candidate in 0..<16 {
            let c = Color.rgb(index: candidate)
            let d = (c.0 - rgb.0) * (c.0 - rgb.0) + (c.1 - rgb.1) * (c.1 - rgb.1) + (c.2 - rgb.2) * (c.2 - rgb.2)
            if d < bestDistance { bestDistance = d; best = candidate }
        }
        return Color.ansi[best]
    }

    /// The base colour (0-7) for a bright one, and whether it was bright.
    public var dimmedToBase: (color: Color, wasBright: Bool) {
        guard let index = paletteIndex, index >= 8, index < 16 else { return (self, false) }
        return (Color.ansi[index - 8], true)
    }

    /// xterm's default RGB value for a palette index.
    static func rgb(index: Int) -> (Int, Int, Int) {
        let ansi: [(Int, Int, Int)] = [
            (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
            (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
        ]
        if index < 16 { return ansi[max(0, index)] }
        if index >= 232 { let v = 8 + 10 * (index - 232); return (v, v, v) }
        let levels = [0, 95, 135, 175, 215, 255]
        let cube = index - 16
        return (levels[cube / 36], levels[(cube / 6) % 6], levels[cube % 6])
    }
}
