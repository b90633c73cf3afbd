/// How a normalised value (0...1) looks in a heatmap for each colour mode.
public enum HeatmapPalette {
    /// A viridis-like ramp of xterm-256 indices, dark purple to yellow (nearest cube colours to
    /// viridis sampled at ten points).
    public static let viridis256: [UInt8] = [53, 54, 60, 24, 30, 36, 71, 113, 148, 220]

    /// Four steps for 8-colour terminals, told apart by hue and dim/normal/bold.
    public static let eightSteps: [Style] = [
        Style(fg: .blue, dim: true), Style(fg: .cyan), Style(fg: .yellow), Style(fg: .yellow, bold: true),
    ]

    /// Intensity glyphs for monochrome terminals, blank to dense.
    public static let intensity: [Character] = [" ", ".", ":", "-", "=", "+", "*", "#", "%", "@"]

    /// The step of `norm` among `count` equal steps (NaN gives nil).
    public static func step(_ norm: Double, count: Int) -> Int? {
        guard !norm.isNaN, count > 0 else { return nil }
        let clamped = min(max(norm, 0), 1)
        return min(count - 1, Int(clamped * Double(count)))
    }

    /// The fill glyph (nil for a space or when a label is drawn) and style for `norm`.
    public static func cell(_ norm: Double, label: String?, mode: DisplayMode) -> (text: Character?, style: Style) {
        // Read as text, a colour is no value: the intensity glyph carries it.
        if mode.textOnly, mode.colors != .monochrome {
            var look = cell(norm, label: label, mode: DisplayMode(colors: mode.colors, glyphs: mode.glyphs))
            if label == nil, let i = step(norm, count: intensity.count) { look.text = intensity[i] }
            return look
        }
        switch mode.colors {
        case .c256:
            guard let i = step(norm, count: viridis256.count) else { return (nil, .plain) }
            // Light text on the dark half of the ramp, dark text on the light half.
            let fg: Color = i < viridis256.count / 2 ? .brightWhite : .black
            return (nil, Style(fg: fg, bg: .indexed(viridis256[i])))
        case .eight:
            guard let i = step(norm, count: eightSteps.count) else { return (nil, .plain) }
            return (label == nil ? (mode.unicode ? "█" : "#") : nil, eightSteps[i])
        case .monochrome:
            guard let i = step(norm, count: intensity.count) else { return (nil, .plain) }
            return (label == nil ? intensity[i] : nil, .plain)
        }
    }
}
