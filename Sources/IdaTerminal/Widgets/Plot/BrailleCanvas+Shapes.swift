#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension BrailleCanvas {
    /// Sets the dot nearest to a data point if it lies inside the viewport.
    public mutating func point(_ p: DataPoint, color: Color? = nil) {
        guard viewport.contains(p), let d = dot(for: p) else { return }
        setDot(column: d.column, row: d.row, color: color)
    }

    /// Draws the part of the segment a-b inside the viewport (Bresenham over dots).
    public mutating func line(from a: DataPoint, to b: DataPoint, color: Color? = nil) {
        guard let (ca, cb) = viewport.clip(a, b), let da = dot(for: ca), let db = dot(for: cb) else { return }
        var x = da.column
        var y = da.row
        let dx = abs(db.column - x)
        let dy = -abs(db.row - y)
        let sx = x < db.column ? 1 : -1
        let sy = y < db.row ? 1 : -1
        var error = dx + dy
        while true {
            setDot(column: x, row: y, color: color)
            if x == db.column && y == db.row { break }
            let e2 = 2 * error
            if e2 >= dy { error += dy; x += sx }
            if e2 <= dx { error += dx; y += sy }
        }
    }

    /// Draws a polyline through `points`; a NaN coordinate breaks the line and lone points become dots.
    public mutating func polyline(_ points: [DataPoint], color: Color? = nil) {
        for (i, p) in points.enumerated() where p.x.isFinite && p.y.isFinite {
            let previousFinite = i > 0 && points[i - 1].x.isFinite && points[i - 1].y.isFinite
            let nextFinite = i + 1 < points.count && points[i + 1].x.isFinite && points[i + 1].y.isFinite
            if previousFinite {
                line(from: points[i - 1], to: p, color: color)
            } else if !nextFinite {
                point(p, color: color)
            }
        }
    }

    /// Draws the outline of an axis-aligned ellipse given in data coordinates.
    public mutating func ellipse(center: DataPoint, radii: DataPoint, color: Color? = nil) {
        guard center.x.isFinite, center.y.isFinite, radii.x.isFinite, radii.y.isFinite else { return }
        let spanX = abs(viewport.x1 - viewport.x0)
        let spanY = abs(viewport.y1 - viewport.y0)
        let rx = spanX > 0 ? abs(radii.x) / spanX * Double(dotWidth) : 0
        let ry = spanY > 0 ? abs(radii.y) / spanY * Double(dotHeight) : 0
        // Enough segments that each spans about one dot, bounded for huge ellipses.
        let steps = min(4096, max(12, Int((rx + ry) * 4)))
        var previous = DataPoint(x: center.x + radii.x, y: center.y)
        for i in 1...steps {
            let angle = 2 * Double.pi * Double(i) / Double(steps)
            let next = DataPoint(x: center.x + radii.x * cos(angle), y: center.y + radii.y * sin(angle))
            line(from: previous, to: next, color: color)
            previous = next
        }
    }
}
