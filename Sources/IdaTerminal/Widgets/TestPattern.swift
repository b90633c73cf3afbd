#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The terminal self-test screen: text, bars, a sparkline, a braille plot and a heatmap laid out
/// to fit any size, so a backend can be checked by eye and in snapshots.
public struct TestPattern: Widget, Sendable {
    /// A status line (e.g. the size and the last event).
    public var status: String
    /// Shifts the plotted waves, so redraws after a tick are visible.
    public var phase: Int
    /// Colours and glyphs allowed.
    public var mode: DisplayMode

    /// Creates the pattern.
    public init(status: String, phase: Int = 0, mode: DisplayMode = .full) {
        self.status = status
        self.phase = phase
        self.mode = mode
    }

    /// Draws the pattern over the whole area.
    public func render(in area: Rect, into buffer: inout ScreenBuffer) {
        let box = Box(title: "idamoe terminal self-test (q quits)", style: Style(fg: .cyan),
                      titleStyle: Style(bold: true), mode: mode)
        box.render(in: area, into: &buffer)
        let inner = area.width >= 2 && area.height >= 2 ? box.inner(area) : area
        let parts = inner.rows([.fixed(1), .fixed(1), .fixed(3), .fixed(2), .fill(1)])
        Text(status, style: Style(fg: .yellow), mode: mode).render(in: parts[0], into: &buffer)
        let sample = mode.unicode ? "wide: 漢字 ok, eighths ▏▎▍▌▋▊▉█" : "ascii: bars #=-, sparks _.-~^, dots .:*"
        Text(sample, mode: mode).render(in: parts[1], into: &buffer)
        for (i, fraction) in [0.125, 0.5, 0.875].enumerated() {
            let row = parts[2].row(i).columns([.fixed(6), .fill(1)])
            Text(NumberText.fixed(fraction, decimals: 3), mode: mode).render(in: row[0], into: &buffer)
            HorizontalBar(fraction: fraction, style: Style(fg: .green), marker: 0.25,
                          markerStyle: Style(fg: .red, bold: true), mode: mode).render(in: row[1], into: &buffer)
        }
        let wave = (0..<max(1, inner.width)).map { sin(Double($0 + phase) / 4) }
        Sparkline(values: wave, style: Style(fg: .magenta), mode: mode).render(in: parts[3], into: &buffer)
        let bottom = parts[4].columns([.ratio(0.4), .ratio(0.25), .fill(1)], spacing: 1)
        let values = (0..<40).map { sin(Double($0 + phase) / 6) }
        LineChart(series: [ChartSeries(values: values, color: .green)], range: -1...1, mode: mode)
            .render(in: bottom[0], into: &buffer)
        var canvas = BrailleCanvas(columns: bottom[1].width, rows: bottom[1].height,
                                   viewport: Viewport(x0: -1, x1: 1, y0: -1, y1: 1), mode: mode)
        canvas.ellipse(center: DataPoint(x: 0, y: 0), radii: DataPoint(x: 0.9, y: 0.8), color: .brightBlue)
        canvas.point(DataPoint(x: 0, y: 0), color: .red)
        canvas.render(in: bottom[1], into: &buffer)
        let heat = (0..<bottom[2].height).map { r in
            (0..<max(0, bottom[2].width / 2)).map { c in Double(r + c) }
        }
        Heatmap(values: heat, cellWidth: 2, mode: mode).render(in: bottom[2], into: &buffer)
    }
}
