/// A plot surface of 2x4 braille dots per cell. Shapes are given in data coordinates through a
/// viewport; each cell takes the colour written to it last. In ASCII mode a cell shows '.', ':'
/// or '*' by how many of its dots are set.
public struct BrailleCanvas: Widget, Sendable {
    /// Width in cells.
    public let columns: Int
    /// Height in cells.
    public let rows: Int
    /// The data rectangle mapped onto the dots.
    public var viewport: Viewport
    /// Style of drawn cells (the foreground is replaced by the cell's colour, when one was given).
    public var style: Style
    /// Glyphs allowed.
    public var mode: DisplayMode
    private var dots: [UInt8]
    private var colors: [Color?]

    /// Bit of the dot at (column 0-1, row 0-3) in a braille character (U+2800 + bits).
    static let dotBits: [[UInt8]] = [[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]]

    /// Creates an empty canvas of `columns` x `rows` cells.
    public init(columns: Int, rows: Int, viewport: Viewport = .unit, style: Style = .plain, mode: DisplayMode = .full) {
        self.columns = max(0, columns)
        self.rows = max(0, rows)
        self.viewport = viewport
        self.style = style
        self.mode = mode
        self.dots = Array(repeating: 0, count: self.columns * self.rows)
        self.colors = Array(repeating: nil, count: self.columns * self.rows)
    }

    /// Dots across (2 per cell).
    public var dotWidth: Int { columns * 2 }
    /// Dots down (4 per cell).
    public var dotHeight: Int { rows * 4 }

    /// Sets the dot at (column, row) in dot coordinates, (0, 0) being the top-left dot.
    public mutating func setDot(column: Int, row: Int, color: Color? = nil) {
        guard column >= 0, row >= 0, column < dotWidth, row < dotHeight else { return }
        let cell = (row / 4) * columns + column / 2
        dots[cell] |= BrailleCanvas.dotBits[row % 4][column % 2]
        if let color { colors[cell] = color }
    }

    /// The dot nearest to a data point (may lie outside the canvas), or nil for NaN.
    public func dot(for p: DataPoint) -> (column: Int, row: Int)? {
        guard p.x.isFinite, p.y.isFinite else { return nil }
        let spanX = viewport.x1 - viewport.x0
        let spanY = viewport.y1 - viewport.y0
        let fx = spanX == 0 ? 0 : (p.x - viewport.x0) / spanX
        let fy = spanY == 0 ? 0 : (viewport.y1 - p.y) / spanY
        let cx = (fx * Double(max(0, dotWidth - 1))).rounded()
        let cy = (fy * Double(max(0, dotHeight - 1))).rounded()
        guard abs(cx) < 1e9, abs(cy) < 1e9 else { return nil }
        return (Int(cx), Int(cy))
    }

    /// The braille character (or ASCII stand-in) of a cell, nil when no dot is set.
    public func glyph(column: Int, row: Int) -> Character? {
        guard column >= 0, row >= 0, column < columns, row < rows else { return nil }
        let bits = dots[row * columns + column]
        guard bits != 0 else { return nil }
        if mode.unicode { return Character(Unicode.Scalar(0x2800 + UInt32(bits)) ?? " ") }
        let count = bits.nonzeroBitCount
        let upper = bits & 0x1B != 0
        let lower = bits & 0xE4 != 0
        return count >= 5 ? "*" : (upper && lower ? ":" : ".")
    }

    /// Draws the canvas at the top-left of `area` (cells beyond either size are left alone);
    /// cells without dots become spaces.
    public func render(in area: Rect, into buffer: inout ScreenBuffer) {
        let shown = area.intersection(Rect(x: area.x, y: area.y, width: columns, height: rows))
        guard !shown.isEmpty else { return }
        for row in 0..<shown.height {
            for column in 0..<shown.width {
                var cellStyle = style
                if let color = colors[row * columns + column] { cellStyle.fg = color }
                let character = glyph(column: column, row: row) ?? " "
                buffer.set(Cell(character, style: cellStyle), x: area.x + column, y: area.y + row)
            }
        }
    }
}
