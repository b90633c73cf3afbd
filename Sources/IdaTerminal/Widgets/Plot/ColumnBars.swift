/// Vertical bars standing on the area's bottom row (a histogram): one bar per value, `barWidth`
/// columns wide with `gap` blank columns between bars, heights in eighths of a row. A value of 0
/// leaves its bar blank; any positive value shows at least the lowest eighth.
public struct ColumnBars: Widget, Sendable {
    /// Bar heights (negative and NaN draw nothing).
    public var values: [Double]
    /// The value of a bar as tall as the area.
    public var max: Double
    /// Columns per bar.
    public var barWidth: Int
    /// Blank columns between bars.
    public var gap: Int
    /// Style of the bars.
    public var style: Style
    /// Glyphs allowed.
    public var mode: DisplayMode

    /// Unicode steps within one row, 1/8 to 8/8.
    static let eighths: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// Creates bars.
    public init(values: [Double], max: Double, barWidth: Int = 1, gap: Int = 0, style: Style = .plain, mode: DisplayMode = .full) {
        self.values = values
        self.max = max
        self.barWidth = Swift.max(1, barWidth)
        self.gap = Swift.max(0, gap)
        self.style = style
        self.mode = mode
    }

    /// Columns the bars take: every bar and the gaps between them.
    public var width: Int { values.isEmpty ? 0 : values.count * barWidth + (values.count - 1) * gap }

    /// The glyph of a cell filled `eighths` eighths from its bottom (1-8).
    func glyph(_ eighths: Int) -> Character {
        if mode.unicode { return ColumnBars.eighths[Swift.min(Swift.max(eighths, 1), 8) - 1] }
        return eighths >= 8 ? "#" : eighths >= 4 ? "=" : "."
    }

    /// Draws the bars from the area's left edge; bars beyond its right edge are left out.
    public func render(in area: Rect, into buffer: inout ScreenBuffer) {
        guard !area.isEmpty, max > 0, max.isFinite else { return }
        let total = area.height * 8
        for (i, value) in values.enumerated() {
            let x0 = area.x + i * (barWidth + gap)
            guard x0 < area.maxX else { break }
            guard value.isFinite, value > 0 else { continue }
            let units = Swift.max(1, Int((Swift.min(value / max, 1) * Double(total)).rounded()))
            for r in 0..<area.height {
                let inRow = Swift.min(Swift.max(units - r * 8, 0), 8)
                guard inRow > 0 else { break }
                for x in x0..<Swift.min(x0 + barWidth, area.maxX) {
                    buffer.set(Cell(glyph(inRow), style: style), x: x, y: area.maxY - 1 - r)
                }
            }
        }
    }
}
