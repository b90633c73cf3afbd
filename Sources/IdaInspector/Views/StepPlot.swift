import IdaTerminal

/// Curves over training steps on one braille canvas, x being the step (so a per-step series and a
/// per-eval series line up): the Overview's and Timeline's CV curves. Data only until `render`.
struct StepPlot {
    /// One curve: (step, value) points in step order.
    struct Curve {
        /// The points; NaN values are skipped.
        var points: [(step: Int, value: Double)]
        /// Its colour.
        var color: Color
        /// Drawn as one dot per cell column (a per-step series such as the train CV) rather than a
        /// solid line through every point (the held-out CV at each eval).
        var dotted: Bool
    }

    /// The curves, drawn in order (later ones win shared cells).
    var curves: [Curve]

    /// Steps on the x axis: from the earliest point of any curve to the latest.
    var steps: ClosedRange<Int> {
        let all = curves.flatMap { $0.points.map(\.step) }
        guard let lo = all.min(), let hi = all.max() else { return 0...1 }
        return lo < hi ? lo...hi : lo...(lo + 1)
    }

    /// The y axis runs from 0 to the largest finite value (at least a tiny positive number).
    var top: Double {
        max(curves.flatMap { $0.points.map(\.value) }.filter(\.isFinite).max() ?? 1, 1e-9)
    }

    /// The cell column (0-based, within a plot `width` cells wide) of `step`.
    func column(of step: Int, width: Int) -> Int {
        Self.column(of: step, in: steps, width: width)
    }

    /// The cell column of `step` on an axis over `range` (the axis computed once per plot, not per
    /// point: a run logs thousands of steps).
    static func column(of step: Int, in range: ClosedRange<Int>, width: Int) -> Int {
        let share = Double(step - range.lowerBound) / Double(range.upperBound - range.lowerBound)
        let dot = (min(max(share, 0), 1) * Double(max(0, 2 * width - 1))).rounded()
        return Int(dot) / 2
    }

    /// Draws the curves over `plot` on a scale from 0 to `top`.
    func render(in plot: Rect, mode: DisplayMode, into buffer: inout ScreenBuffer) {
        guard !plot.isEmpty else { return }
        let range = steps
        let viewport = Viewport(x0: Double(range.lowerBound), x1: Double(range.upperBound), y0: 0, y1: top)
        var canvas = BrailleCanvas(columns: plot.width, rows: plot.height, viewport: viewport, mode: mode)
        for curve in curves {
            let finite = curve.points.filter { $0.value.isFinite }
            guard curve.dotted else {
                canvas.polyline(finite.map { DataPoint(x: Double($0.step), y: $0.value) }, color: curve.color)
                continue
            }
            // One dot per cell column: the mean of the points falling in it.
            var sums = [(total: Double, count: Int)](repeating: (0, 0), count: plot.width)
            for p in finite {
                let c = Self.column(of: p.step, in: range, width: plot.width)
                sums[c].total += p.value
                sums[c].count += 1
            }
            for (c, s) in sums.enumerated() where s.count > 0 {
                guard let dot = canvas.dot(for: DataPoint(x: Double(range.lowerBound), y: s.total / Double(s.count))) else { continue }
                canvas.setDot(column: 2 * c, row: dot.row, color: curve.color)
            }
        }
        canvas.render(in: plot, into: &buffer)
    }

    /// A run's two CVs: the train CV (training batch, top-k, every step) dotted and the held-out CV
    /// (top-k CVmean over the validation tokens at each eval) solid, both in `color`.
    static func cvCurves(_ history: RunHistory, color: Color) -> [Curve] {
        [Curve(points: history.steps.map { ($0.step, $0.cvMean) }, color: color, dotted: true),
         Curve(points: history.evals.compactMap { e in e.heldoutTopK.map { (e.step, $0) } }, color: color, dotted: false)]
    }

    /// The legend glyph of a curve: a dotted or a solid short line.
    static func swatch(dotted: Bool, unicode: Bool) -> String {
        dotted ? (unicode ? "⠂⠂" : "..") : (unicode ? "──" : "--")
    }
}
