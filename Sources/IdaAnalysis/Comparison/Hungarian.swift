import IdaRouting
/// Maximum-weight one-to-one assignment on a rectangular matrix (Kuhn-Munkres with the shortest
/// augmenting paths and potentials of Jonker and Volgenant, O(n^2 m) for n <= m).
///
/// Used to match the experts of two routers by how many probe tokens they share: rows are A's experts,
/// columns B's. The result is deterministic: among equally good assignments the algorithm returns the
/// one its fixed row-by-row, lowest-column-first search reaches first. Callers that want a particular
/// preference among ties (for example the identity) add it to the weights as a lower-order term.
public enum Hungarian {
    /// For each row of the row-major `rows` x `cols` matrix `weights`, the column it is assigned to, such
    /// that the sum of assigned weights is largest; nil for the rows left over when rows > cols.
    public static func maximumWeightAssignment(rows: Int, cols: Int,
                                               weights: [Double]) throws(ComparisonError) -> [Int?] {
        guard rows >= 0, cols >= 0, weights.count == rows * cols else {
            throw .raggedMatrix(rows: rows, cols: cols, count: weights.count)
        }
        if let bad = weights.firstIndex(where: { !$0.isFinite }) {
            throw .nonFiniteWeight(row: bad / max(cols, 1), col: bad % max(cols, 1))
        }
        if rows == 0 { return [] }
        if cols == 0 { return [Int?](repeating: nil, count: rows) }
        if rows <= cols {
            // Minimum cost of -w is maximum weight of w.
            let columns = minimumCostAssignment(n: rows, m: cols) { -weights[$0 * cols + $1] }
            return columns.map { Optional($0) }
        }
        // More rows than columns: assign every column to a row on the transpose, then invert.
        let rowOfColumn = minimumCostAssignment(n: cols, m: rows) { -weights[$1 * cols + $0] }
        var result = [Int?](repeating: nil, count: rows)
        for (column, row) in rowOfColumn.enumerated() { result[row] = column }
        return result
    }

    /// The same for a matrix given as rows; every row must have the same length.
    public static func maximumWeightAssignment(_ weights: [[Double]]) throws(ComparisonError) -> [Int?] {
        let cols = weights.first?.count ?? 0
        let flat = weights.flatMap { $0 }
        guard weights.allSatisfy({ $0.count == cols }) else {
            throw .raggedMatrix(rows: weights.count, cols: cols, count: flat.count)
        }
        return try maximumWeightAssignment(rows: weights.count, cols: cols, weights: flat)
    }

    /// Minimum-cost assignment of n rows to distinct columns among m >= n; the column of each row.
    ///
    /// Potentials u (rows) and v (columns) keep every reduced cost c(i, j) - u_i - v_j non-negative; each
    /// row is added by a Dijkstra-like search for the shortest augmenting path in reduced costs.
    /// Index 0 is a virtual column holding the row being inserted (1-based inside, as in the classic form).
    static func minimumCostAssignment(n: Int, m: Int, cost: (Int, Int) -> Double) -> [Int] {
        var u = [Double](repeating: 0, count: n + 1)
        var v = [Double](repeating: 0, count: m + 1)
        var rowOfColumn = [Int](repeating: 0, count: m + 1)  // 0: free column
        var way = [Int](repeating: 0, count: m + 1)
        var minReduced = [Double](repeating: 0, count: m + 1)
        var used = [Bool](repeating: false, count: m + 1)
        for row in 1...n {
            rowOfColumn[0] = row
            var column0 = 0
            for j in 0...m {
                minReduced[j] = .infinity
                used[j] = false
            }
            repeat {
                used[column0] = true
                let row0 = rowOfColumn[column0]
                var delta = Double.infinity
                var column1 = 0
                for j in 1...m where !used[j] {
                    let reduced = cost(row0 - 1, j - 1) - u[row0] - v[j]
                    if reduced < minReduced[j] {
                        minReduced[j] = reduced
                        way[j] = column0
                    }
                    // Strictly smaller keeps the lowest column among equal candidates.
                    if minReduced[j] < delta {
                        delta = minReduced[j]
                        column1 = j
                    }
                }
                for j in 0...m {
                    if used[j] {
                        u[rowOfColumn[j]] += delta
                        v[j] -= delta
                    } else {
                        minReduced[j] -= delta
                    }
                }
                column0 = column1
            } while rowOfColumn[column0] != 0
            // Flip the augmenting path back to the virtual column.
            repeat {
                let previous = way[column0]
                rowOfColumn[column0] = rowOfColumn[previous]
                column0 = previous
            } while column0 != 0
        }
        var columnOfRow = [Int](repeating: 0, count: n)
        for j in 1...m where rowOfColumn[j] != 0 { columnOfRow[rowOfColumn[j] - 1] = j - 1 }
        return columnOfRow
    }
}
