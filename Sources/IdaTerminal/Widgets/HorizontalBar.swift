/// A horizontal bar filled to a fraction of its width in eighths of a cell, with an optional
/// marker column for a reference value (such as an expert's fair share 1/E).
public struct HorizontalBar: Widget, Sendable {
    /// Filled fraction, clamped to 0...1; NaN draws an empty bar.
    public var fraction: Double
    /// Style of the filled part.
    public var style: Style
    /// Style of the unfilled part.
    public var trackStyle: Style
    /// Reference value as a fraction of the width, drawn as a thin vertical line.
    public var marker: Double?
    /// Style of the marker.
    public var markerStyle: Style
    /// Glyphs allowed.
    public var mode: DisplayMode

    /// Partial cells, 1/8 to 8/8.
    static let eighths: [Character] = ["▏", "▎", "▍", "▌", "▋", "▊", "▉", "█"]

    /// Creates a bar.
    public init(fraction: Double, style: Style = .plain, trackStyle: Style = .plain,
                marker: Double? = nil, markerStyle: Style = .plain, mode: DisplayMode = .full) {
        self.fraction = fraction
        self.style = style
        self.trackStyle = trackStyle
        self.marker = marker
        self.markerStyle = markerStyle
        self.mode = mode
    }

    /// Draws the same bar on every row of the area.
    public func render(in area: Rect, into buffer: inout ScreenBuffer) {
        guard !area.isEmpty else { return }
        let glyphs = HorizontalBar.cells(fraction: fraction, width: area.width, glyphs: mode.glyphs)
        let markerColumn = marker.flatMap { m -> Int? in
            guard m.isFinite, m >= 0, m <= 1 else { return nil }
            return min(area.width - 1, Int(m * Double(area.width)))
        }
        for y in area.minY..<area.maxY {
            for (i, glyph) in glyphs.enumerated() {
                if i == markerColumn {
                    buffer.set(Cell(mode.unicode ? "│" : "|", style: markerStyle), x: area.x + i, y: y)
                } else {
                    buffer.set(Cell(glyph ?? " ", style: glyph == nil ? trackStyle : style), x: area.x + i, y: y)
                }
            }
        }
    }

    /// One glyph per column: filled cells, then at most one partial cell, then nil for the track.
    public static func cells(fraction: Double, width: Int, glyphs: GlyphMode) -> [Character?] {
        guard width > 0 else { return [] }
        let clamped = fraction.isNaN ? 0 : min(max(fraction, 0), 1)
        let eighthsFilled = Int((clamped * Double(width) * 8).rounded())
        let full = eighthsFilled / 8
        let partial = eighthsFilled % 8
        var result = [Character?](repeating: nil, count: width)
        for i in 0..<full { result[i] = glyphs == .unicode ? "█" : "#" }
        if partial > 0, full < width {
            result[full] = glyphs == .unicode ? eighths[partial - 1] : (partial >= 4 ? "=" : "-")
        }
        return result
    }
}
