/// Series plotted as braille lines, with the y range's max and min labelled on the left.
public struct LineChart: Widget, Sendable {
    /// The lines, drawn in order (later ones win shared cells).
    public var series: [ChartSeries]
    /// The y range; nil uses the non-NaN min and max of all series.
    public var range: ClosedRange<Double>?
    /// Style of the labels and the axis.
    public var axisStyle: Style
    /// Glyphs allowed.
    public var mode: DisplayMode

    /// Creates a chart.
    public init(series: [ChartSeries], range: ClosedRange<Double>? = nil, axisStyle: Style = .plain, mode: DisplayMode = .full) {
        self.series = series
        self.range = range
        self.axisStyle = axisStyle
        self.mode = mode
    }

    /// The y range used.
    public var effectiveRange: ClosedRange<Double> {
        if let range { return range }
        let finite = series.flatMap(\.values).filter { $0.isFinite }
        guard let lo = finite.min(), let hi = finite.max() else { return 0...1 }
        return lo < hi ? lo...hi : (lo - 1)...(hi + 1)
    }

    /// Draws labels and axis when there is room (two rows and a plot at least two columns wide),
    /// then the lines.
    public func render(in area: Rect, into buffer: inout ScreenBuffer) {
        guard !area.isEmpty else { return }
        let r = effectiveRange
        let top = NumberText.compact(r.upperBound)
        let bottom = NumberText.compact(r.lowerBound)
        let labelWidth = max(DisplayWidth.of(top), DisplayWidth.of(bottom))
        var plot = area
        if area.height >= 2 && area.width >= labelWidth + 3 {
            let parts = area.columns([.fixed(labelWidth), .fixed(1), .fill(1)])
            Text(top, style: axisStyle, alignment: .right, mode: mode).render(in: parts[0].row(0), into: &buffer)
            Text(bottom, style: axisStyle, alignment: .right, mode: mode).render(in: parts[0].row(area.height - 1), into: &buffer)
            for y in parts[1].minY..<parts[1].maxY {
                let isEnd = y == parts[1].minY || y == parts[1].maxY - 1
                let glyph: Character = mode.unicode ? (isEnd ? "┤" : "│") : (isEnd ? "+" : "|")
                buffer.set(Cell(glyph, style: axisStyle), x: parts[1].x, y: y)
            }
            plot = parts[2]
        }
        let count = series.map(\.values.count).max() ?? 0
        let viewport = Viewport(x0: 0, x1: Double(max(1, count - 1)), y0: r.lowerBound, y1: r.upperBound)
        var canvas = BrailleCanvas(columns: plot.width, rows: plot.height, viewport: viewport, mode: mode)
        for line in series {
            let points = line.values.enumerated().map { DataPoint(x: Double($0.offset), y: $0.element) }
            canvas.polyline(points, color: line.color)
        }
        canvas.render(in: plot, into: &buffer)
    }
}
