/// A series drawn as columns of block eighths (▁▂▃▄▅▆▇█), newest value at the right end when the
/// series is longer than the area; NaN values leave gaps.
public struct Sparkline: Widget, Sendable {
    /// The values, oldest first.
    public var values: [Double]
    /// Value drawn as the lowest step; nil uses the smallest non-NaN value.
    public var min: Double?
    /// Value drawn as a full column; nil uses the largest non-NaN value.
    public var max: Double?
    /// Style of the columns.
    public var style: Style
    /// Glyphs allowed.
    public var mode: DisplayMode

    /// Unicode steps within one row.
    static let unicodeRamp: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
    /// ASCII steps within one row.
    static let asciiRamp: [Character] = ["_", ".", "-", "~", "^"]

    /// Creates a sparkline.
    public init(values: [Double], min: Double? = nil, max: Double? = nil, style: Style = .plain, mode: DisplayMode = .full) {
        self.values = values
        self.min = min
        self.max = max
        self.style = style
        self.mode = mode
    }

    /// Draws the last `area.width` values; taller areas stack rows so columns gain resolution.
    public func render(in area: Rect, into buffer: inout ScreenBuffer) {
        guard !area.isEmpty else { return }
        let shown = Array(values.suffix(area.width))
        let finite = shown.filter { !$0.isNaN }
        let lo = min ?? finite.min() ?? 0
        let hi = max ?? finite.max() ?? 1
        let ramp = mode.unicode ? Sparkline.unicodeRamp : Sparkline.asciiRamp
        let full: Character = mode.unicode ? "█" : "|"
        let steps = ramp.count
        let total = steps * area.height
        for (i, value) in shown.enumerated() {
            let x = area.x + i
            guard !value.isNaN else {
                for y in area.minY..<area.maxY { buffer.set(Cell(" ", style: style), x: x, y: y) }
                continue
            }
            let norm = hi > lo ? Swift.min(Swift.max((value - lo) / (hi - lo), 0), 1) : 0.5
            let units = 1 + Int((norm * Double(total - 1)).rounded())
            for r in 0..<area.height {
                let inRow = Swift.min(Swift.max(units - r * steps, 0), steps)
                let glyph: Character
                if inRow == 0 {
                    glyph = " "
                } else if inRow == steps && units > (r + 1) * steps {
                    glyph = full
                } else {
                    glyph = ramp[inRow - 1]
                }
                buffer.set(Cell(glyph, style: style), x: x, y: area.maxY - 1 - r)
            }
        }
    }
}
