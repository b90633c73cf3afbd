/// One line of a line chart: values at x = 0, 1, 2... and a colour.
public struct ChartSeries: Hashable, Sendable {
    /// The values; NaN breaks the line.
    public var values: [Double]
    /// The line's colour (nil keeps the chart's style).
    public var color: Color?

    /// Creates a series.
    public init(values: [Double], color: Color? = nil) {
        self.values = values
        self.color = color
    }
}
