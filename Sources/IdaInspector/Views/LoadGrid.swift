import Foundation
import IdaTerminal

/// Geometry of the overview's layer x expert heatmap at any size: the rows on screen (a page of
/// the layers, in the state's order, holding the shown layer), the experts in column order, and how
/// many experts share a cell when they do not fit one column each. Drawing and hit-testing share it.
struct LoadGrid {
    /// The cell geometry (columns = cells, not experts).
    var grid: HeatmapGrid
    /// Matrix rows in display order.
    var rowOrder: [Int]
    /// The page of `rowOrder` drawn.
    var rows: ListWindow
    /// Experts in column order.
    var experts: [Int]
    /// Experts per cell (1 when every expert has a column).
    var group: Int
    /// Lines under the page for the legend and the position line.
    static let footerLines = 3

    /// The grid for `matrix` in the load panel's `inner` area.
    init(matrix: LoadMatrix, state: InspectorState, inner: Rect) {
        let e = matrix.experts
        let room = max(1, inner.width - 7)
        group = max(1, (e + room - 1) / room)
        let cells = (e + group - 1) / group
        grid = HeatmapGrid(inner: inner, columns: cells, labelWidth: 7, showValues: state.showValues && group == 1)
        experts = LoadGrid.expertOrder(matrix, state: state)
        let rowOrder = LoadGrid.rowOrder(matrix, order: state.order)
        self.rowOrder = rowOrder
        let focus = state.layer.flatMap { l in rowOrder.firstIndex { matrix.layers[$0] == l } } ?? 0
        let visible = LoadGrid.heatmapRows(layers: rowOrder.count, inner: inner, hasHeader: grid.hasHeader)
        rows = ListWindow(total: rowOrder.count, visible: visible, focus: focus)
    }

    /// Heatmap rows that fit in `inner` after the legend: every layer when they fit, else about half
    /// the room (the per-layer table below pages the same layers in the rest).
    static func heatmapRows(layers: Int, inner: Rect, hasHeader: Bool) -> Int {
        let room = inner.height - (hasHeader ? 1 : 0) - footerLines
        if room >= layers { return layers }
        return max(1, (room - 1) / 2)
    }

    /// Matrix rows by index, or by CV (least balanced first, NaN last) when the state asks.
    static func rowOrder(_ matrix: LoadMatrix, order: ListOrder) -> [Int] {
        let all = Array(matrix.layers.indices)
        guard order == .cv else { return all }
        func key(_ i: Int) -> Double { matrix.cvs[i].isNaN ? -.infinity : matrix.cvs[i] }
        return all.sorted { key($0) != key($1) ? key($0) > key($1) : $0 < $1 }
    }

    /// Experts by index, or by the shown layer's load when the state asks.
    static func expertOrder(_ matrix: LoadMatrix, state: InspectorState) -> [Int] {
        let all = Array(0..<matrix.experts)
        guard state.order == .load, let row = state.layer.flatMap({ matrix.layers.firstIndex(of: $0) }) else { return all }
        let load = matrix.loads[row]
        func share(_ e: Int) -> Double { e < load.count ? load[e] : -1 }
        return all.sorted { share($0) != share($1) ? share($0) > share($1) : $0 < $1 }
    }

    /// The experts drawn in cell `column`.
    func members(ofColumn column: Int) -> ArraySlice<Int> {
        let start = min(column * group, experts.count)
        return experts[start..<min(start + group, experts.count)]
    }

    /// The expert a cell of matrix row `row` stands for: the one whose share is furthest from the
    /// fair 1/E (by ratio, so starved and overloaded experts both show), ties to the first.
    func representative(row: Int, column: Int, matrix: LoadMatrix) -> Int? {
        let load = matrix.loads[row]
        let fair = 1 / Double(max(1, load.count))
        var best: (expert: Int, distance: Double)?
        for e in members(ofColumn: column) where e < load.count {
            let share = load[e]
            let distance = share > 0 && share.isFinite ? abs(Foundation.log(share / fair)) : .infinity
            if best == nil || distance > best?.distance ?? 0 { best = (e, distance) }
        }
        return best?.expert
    }

    /// The (matrix row, expert) drawn at screen cell (x, y), if any.
    func target(atX x: Int, y: Int, matrix: LoadMatrix) -> (row: Int, expert: Int)? {
        guard let (r, column) = grid.position(atX: x, y: y), r < rows.count, column < grid.columns else { return nil }
        let row = rowOrder[rows.first + r]
        return representative(row: row, column: column, matrix: matrix).map { (row, $0) }
    }
}
