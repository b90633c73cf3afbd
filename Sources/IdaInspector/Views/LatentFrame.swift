import IdaTerminal

/// The data rectangle of the latent plot: fitted around every finite point, then zoomed about its
/// centre and panned by shares of the fitted width and height (as `InspectorState.pan` counts them).
struct LatentFrame: Sendable, Equatable {
    /// The rectangle holding every point, with a 5% margin.
    var fitted: Viewport
    /// What the plot shows after zoom and pan.
    var shown: Viewport

    /// The frame for `points` at `zoom` (1 = fit) and `pan` (shares of the fitted size; +y is up).
    init(points: [(Double, Double)], zoom: Double, pan: (Double, Double)) {
        // One pass without temporaries: this runs every frame over every probe token.
        var x0 = Double.infinity, x1 = -Double.infinity, y0 = Double.infinity, y1 = -Double.infinity
        for (x, y) in points where x.isFinite && y.isFinite {
            x0 = min(x0, x); x1 = max(x1, x)
            y0 = min(y0, y); y1 = max(y1, y)
        }
        if x0 > x1 { (x0, x1) = (-1, 1) }
        if y0 > y1 { (y0, y1) = (-1, 1) }
        if x1 - x0 <= 0 { x0 -= 1; x1 += 1 }
        if y1 - y0 <= 0 { y0 -= 1; y1 += 1 }
        let mx = (x1 - x0) * 0.05, my = (y1 - y0) * 0.05
        fitted = Viewport(x0: x0 - mx, x1: x1 + mx, y0: y0 - my, y1: y1 + my)
        let w = fitted.x1 - fitted.x0, h = fitted.y1 - fitted.y0
        let z = zoom.isFinite && zoom > 0 ? zoom : 1
        let cx = (fitted.x0 + fitted.x1) / 2 + (pan.0.isFinite ? pan.0 : 0) * w
        let cy = (fitted.y0 + fitted.y1) / 2 + (pan.1.isFinite ? pan.1 : 0) * h
        shown = Viewport(x0: cx - w / 2 / z, x1: cx + w / 2 / z, y0: cy - h / 2 / z, y1: cy + h / 2 / z)
    }

    /// The cell (column, row from the top) of a canvas of `columns` x `rows` cells showing this frame
    /// that holds point p, or nil when p is outside; the same rounding as `BrailleCanvas.dot(for:)`.
    func cell(of p: (Double, Double), columns: Int, rows: Int) -> (column: Int, row: Int)? {
        guard columns > 0, rows > 0, shown.contains(DataPoint(x: p.0, y: p.1)) else { return nil }
        let fx = (p.0 - shown.x0) / (shown.x1 - shown.x0)
        let fy = (shown.y1 - p.1) / (shown.y1 - shown.y0)
        let dx = Int((fx * Double(columns * 2 - 1)).rounded())
        let dy = Int((fy * Double(rows * 4 - 1)).rounded())
        return (min(columns - 1, max(0, dx / 2)), min(rows - 1, max(0, dy / 4)))
    }
}
