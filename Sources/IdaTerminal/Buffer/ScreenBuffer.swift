/// A width x height grid of cells that views render into; backends draw it.
public struct ScreenBuffer: Hashable, Sendable {
    /// Columns.
    public let width: Int
    /// Rows.
    public let height: Int
    /// Cells in row-major order.
    public private(set) var cells: [Cell]

    /// Creates a buffer of blank cells; negative sizes become 0.
    public init(width: Int, height: Int) {
        self.width = max(0, width)
        self.height = max(0, height)
        self.cells = Array(repeating: .blank, count: self.width * self.height)
    }

    /// The whole buffer as a rectangle at the origin.
    public var bounds: Rect { Rect(x: 0, y: 0, width: width, height: height) }

    /// The cell at (x, y), or nil outside the buffer.
    public func cell(x: Int, y: Int) -> Cell? {
        guard x >= 0, y >= 0, x < width, y < height else { return nil }
        return cells[y * width + x]
    }

    /// Writes `text` starting at column x of row y, clipped to `clip` and the buffer, and returns
    /// the column after the text (as if unclipped). A wide grapheme that would be cut in half at
    /// either clip edge leaves a space in its visible half instead.
    @discardableResult
    public mutating func put(_ text: String, at x: Int, y: Int, style: Style = .plain, clip: Rect? = nil) -> Int {
        let area = (clip ?? bounds).intersection(bounds)
        var column = x
        for character in text {
            let w = DisplayWidth.of(character)
            if w == 0 { continue }
            defer { column += w }
            guard y >= area.minY, y < area.maxY, column < area.maxX, column + w > area.minX else { continue }
            if w == 2 && (column < area.minX || column + 1 >= area.maxX) {
                let visible = column < area.minX ? column + 1 : column
                write(Cell(" ", style: style), x: visible, y: y)
            } else if w == 2 {
                write(Cell(character, style: style), x: column, y: y)
                write(.continuation(style: style), x: column + 1, y: y)
            } else {
                write(Cell(character, style: style), x: column, y: y)
            }
        }
        return column
    }

    /// Sets the cell at (x, y) (a wide grapheme also takes x + 1); ignored outside the buffer.
    public mutating func set(_ cell: Cell, x: Int, y: Int) {
        guard x >= 0, y >= 0, x < width, y < height, !cell.isContinuation else { return }
        if DisplayWidth.of(cell.text) == 1 {
            write(cell, x: x, y: y)
        } else {
            put(cell.text, at: x, y: y, style: cell.style)
        }
    }

    /// Fills the part of `rect` inside the buffer with `character` in `style`.
    public mutating func fill(_ rect: Rect, style: Style = .plain, character: Character = " ") {
        let area = rect.intersection(bounds)
        guard !area.isEmpty else { return }
        let text = String(character)
        for y in area.minY..<area.maxY {
            for x in area.minX..<area.maxX { write(Cell(text: text, style: style), x: x, y: y) }
        }
    }

    /// Stores a cell, first breaking up any wide grapheme it half-overwrites. Every cell passes here:
    /// one holding a terminal control is stored as the placeholder (`CellText`).
    private mutating func write(_ cell: Cell, x: Int, y: Int) {
        var cell = cell
        if CellText.containsControl(cell.text) { cell.text = CellText.placeholder }
        let index = y * width + x
        if !cell.isContinuation, cells[index].isContinuation, x > 0 {
            cells[index - 1] = Cell(text: " ", style: cells[index - 1].style)
        }
        if x + 1 < width, cells[index + 1].isContinuation {
            cells[index + 1] = Cell(text: " ", style: cells[index + 1].style)
        }
        cells[index] = cell
    }
}
