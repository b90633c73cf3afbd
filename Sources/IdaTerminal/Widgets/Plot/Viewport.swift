/// A point in data coordinates.
public struct DataPoint: Hashable, Sendable {
    /// Horizontal coordinate.
    public var x: Double
    /// Vertical coordinate (up is larger).
    public var y: Double

    /// Creates a point.
    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }
}

/// The data rectangle a plot shows: x0 at the left edge, x1 at the right, y0 at the bottom, y1 at the top.
public struct Viewport: Hashable, Sendable {
    /// Data x at the left edge.
    public var x0: Double
    /// Data x at the right edge.
    public var x1: Double
    /// Data y at the bottom edge.
    public var y0: Double
    /// Data y at the top edge.
    public var y1: Double

    /// Creates a viewport.
    public init(x0: Double, x1: Double, y0: Double, y1: Double) {
        self.x0 = x0
        self.x1 = x1
        self.y0 = y0
        self.y1 = y1
    }

    /// The unit square (0...1 on both axes).
    public static let unit = Viewport(x0: 0, x1: 1, y0: 0, y1: 1)

    /// Whether the point lies inside (edges included).
    public func contains(_ p: DataPoint) -> Bool {
        p.x >= Swift.min(x0, x1) && p.x <= Swift.max(x0, x1) && p.y >= Swift.min(y0, y1) && p.y <= Swift.max(y0, y1)
    }

    /// The part of the segment a-b inside the viewport (Liang-Barsky), or nil if none is.
    public func clip(_ a: DataPoint, _ b: DataPoint) -> (DataPoint, DataPoint)? {
        guard a.x.isFinite, a.y.isFinite, b.x.isFinite, b.y.isFinite else { return nil }
        let dx = b.x - a.x
        let dy = b.y - a.y
        var t0 = 0.0
        var t1 = 1.0
        let edges: [(Double, Double)] = [
            (-dx, a.x - Swift.min(x0, x1)), (dx, Swift.max(x0, x1) - a.x),
            (-dy, a.y - Swift.min(y0, y1)), (dy, Swift.max(y0, y1) - a.y),
        ]
        for (p, q) in edges {
            if p == 0 {
                if q < 0 { return nil }
                continue
            }
            let t = q / p
            if p < 0 { t0 = Swift.max(t0, t) } else { t1 = Swift.min(t1, t) }
            if t0 > t1 { return nil }
        }
        return (DataPoint(x: a.x + t0 * dx, y: a.y + t0 * dy), DataPoint(x: a.x + t1 * dx, y: a.y + t1 * dy))
    }
}
