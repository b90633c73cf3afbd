extension Matrix {
    /// A matrix whose values are not set, for outputs that are written in full before they are read
    /// (a GEMM with beta 0, a row-by-row kernel): it skips the zero fill that `init(rows:cols:)` pays.
    package init(uninitializedRows rows: Int, cols: Int) {
        precondition(rows >= 0 && cols >= 0, "negative matrix shape")
        let count = rows * cols
        self.init(rows: rows, cols: cols, data: [Float](unsafeUninitializedCapacity: count) { _, initialized in
            initialized = count
        })
    }
}

extension Array where Element: BinaryFloatingPoint {
    /// `count` numbers whose values are not set, to be written in full before they are read.
    package static func uninitialized(_ count: Int) -> [Element] {
        [Element](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }
}
