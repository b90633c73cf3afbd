import IdaTerminal

/// Geometry of a labelled heatmap: a label column, then one cell of equal width per column, one
/// row per series, with a header row of column labels when cells are at least 2 wide. Drawing and
/// mouse hit-testing share it.
struct HeatmapGrid {
    /// The area inside the panel border.
    var inner: Rect
    /// Columns taken by the row labels.
    var labelWidth: Int
    /// Columns per heatmap cell.
    var cell: Int
    /// Columns left for the cells.
    var room: Int
    /// Number of heatmap columns.
    var columns: Int

    /// The grid for `columns` cells after a `labelWidth` label; wider cells when values are shown.
    init(inner: Rect, columns: Int, labelWidth: Int, showValues: Bool) {
        self.inner = inner
        self.labelWidth = labelWidth
        self.columns = columns
        room = max(0, inner.width - labelWidth)
        let n = max(1, columns)
        if showValues {
            cell = room >= n * 5 ? min(6, room / n) : room >= n * 4 ? 4 : max(1, min(3, room / n))
        } else {
            cell = max(1, min(6, room / n))
        }
    }

    /// Whether a header row of column labels is drawn above the cells.
    var hasHeader: Bool { cell >= 2 }

    /// The screen row of heatmap row 0.
    var firstRow: Int { inner.y + (hasHeader ? 1 : 0) }

    /// The (row, column) of the heatmap cell drawn at screen cell (x, y); nil outside the cells
    /// (rows are not bounded here: the caller knows how many it drew).
    func position(atX x: Int, y: Int) -> (row: Int, column: Int)? {
        guard inner.contains(x: x, y: y), y >= firstRow else { return nil }
        let dx = x - inner.x - labelWidth
        guard dx >= 0 else { return nil }
        let column = dx / cell
        guard column < columns else { return nil }
        return (y - firstRow, column)
    }
}
