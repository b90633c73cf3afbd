/// A grid of values drawn as coloured cells: background colours from a viridis-like ramp with 256
/// colours, four dim/normal/bold steps with 8, intensity glyphs (" .:-=+*#%@") in monochrome.
public struct Heatmap: Widget, Sendable {
    /// Rows of values (row 0 at the top); NaN cells stay blank.
    public var values: [[Double]]
    /// Values mapped to the ends of the ramp; nil uses the data's non-NaN min and max.
    public var range: ClosedRange<Double>?
    /// Columns per value.
    public var cellWidth: Int
    /// Decimals of the value labels drawn in each cell; nil draws no labels.
    public var labelDecimals: Int?
    /// Colours and glyphs allowed.
    public var mode: DisplayMode

    /// Creates a heatmap.
    public init(values: [[Double]], range: ClosedRange<Double>? = nil, cellWidth: Int = 2,
                labelDecimals: Int? = nil, mode: DisplayMode = .full) {
        self.values = values
        self.range = range
        self.cellWidth = cellWidth
        self.labelDecimals = labelDecimals
        self.mode = mode
    }

    /// The range used for colouring.
    public var effectiveRange: ClosedRange<Double> {
        if let range { return range }
        let finite = values.joined().filter { $0.isFinite }
        guard let lo = finite.min(), let hi = finite.max() else { return 0...1 }
        return lo...hi
    }

    /// `value` mapped into 0...1 over the range (0.5 when the range is a single value).
    public func normalised(_ value: Double) -> Double {
        let r = effectiveRange
        guard !value.isNaN else { return .nan }
        guard r.upperBound > r.lowerBound else { return 0.5 }
        return min(max((value - r.lowerBound) / (r.upperBound - r.lowerBound), 0), 1)
    }

    /// Draws one row of cells per value row, clipped to the area.
    public func render(in area: Rect, into buffer: inout ScreenBuffer) {
        guard !area.isEmpty, cellWidth > 0 else { return }
        for (r, row) in values.prefix(area.height).enumerated() {
            for (c, value) in row.enumerated() {
                let x = area.x + c * cellWidth
                guard x < area.maxX else { break }
                let slot = Rect(x: x, y: area.y + r, width: cellWidth, height: 1).intersection(area)
                let label = labelDecimals.map { NumberText.fixed(value, decimals: $0) }
                let fits = label.map { DisplayWidth.of($0) <= cellWidth && !value.isNaN } ?? false
                let look = HeatmapPalette.cell(normalised(value), label: fits ? label : nil, mode: mode)
                buffer.fill(slot, style: look.style, character: look.text ?? " ")
                if fits, let label {
                    let pad = cellWidth - DisplayWidth.of(label)
                    buffer.put(label, at: x + pad, y: area.y + r, style: look.style, clip: slot)
                }
            }
        }
    }
}
