import Dispatch
import IdaBLAS

/// A dense row-major matrix of `Float`, the one tensor type of the numerics target.
public struct Matrix: Equatable, Sendable {
    /// Number of rows (usually N tokens or an output width).
    public var rows: Int
    /// Number of columns.
    public var cols: Int
    /// Row-major values, `rows * cols` of them.
    public var data: [Float]

    /// A matrix filled with `value`.
    public init(rows: Int, cols: Int, repeating value: Float = 0) {
        precondition(rows >= 0 && cols >= 0, "negative matrix shape")
        self.rows = rows
        self.cols = cols
        self.data = [Float](repeating: value, count: rows * cols)
    }

    /// A matrix over existing row-major values.
    public init(rows: Int, cols: Int, data: [Float]) {
        precondition(data.count == rows * cols, "matrix data has \(data.count) values, shape needs \(rows * cols)")
        self.rows = rows
        self.cols = cols
        self.data = data
    }

    /// The element at row `r`, column `c`.
    @inlinable
    public subscript(r: Int, c: Int) -> Float {
        get { data[r * cols + c] }
        set { data[r * cols + c] = newValue }
    }

    /// Sets every element to zero, keeping the shape.
    public mutating func zero() {
        data.withUnsafeMutableBufferPointer { buffer in
            for i in buffer.indices { buffer[i] = 0 }
        }
    }

    /// Rows `range` as a new matrix.
    public func rows(_ range: Range<Int>) -> Matrix {
        Matrix(rows: range.count, cols: cols, data: Array(data[(range.lowerBound * cols)..<(range.upperBound * cols)]))
    }
}

/// C = alpha * op(A) op(B) + beta * C through OpenBLAS, with shapes checked.
/// op(A) is A or A^T so that op(A) is [m,k]; op(B) is [k,n]; C is [m,n].
///
/// With several workers in `context`, the rows of C are split into one contiguous block per worker
/// (block edges on multiples of 16 rows) and each worker runs a single-threaded GEMM on its block:
/// no reduction is split, and the split depends only on m and the worker count.
public func gemm(_ a: Matrix, transA: Bool = false, _ b: Matrix, transB: Bool = false,
                 into c: inout Matrix, alpha: Float = 1, beta: Float = 0, context: NumericContext = .serial) {
    let m = transA ? a.cols : a.rows
    let k = transA ? a.rows : a.cols
    let kb = transB ? b.cols : b.rows
    let n = transB ? b.rows : b.cols
    precondition(k == kb, "gemm inner dimensions differ: \(k) vs \(kb)")
    precondition(c.rows == m && c.cols == n, "gemm output is [\(c.rows),\(c.cols)], needs [\(m),\(n)]")
    a.data.withUnsafeBufferPointer { pa in
        guard let aa = pa.baseAddress else { return }
        gemm(aa, lda: a.cols, m: m, k: k, transA: transA, b, transB: transB, into: &c, alpha: alpha, beta: beta,
             context: context)
    }
}

/// The same product with A given as row-major memory of leading dimension `lda` (for example rows of a
/// mapped file read in place): op(A) is [m, k]; every other argument as in the `Matrix` form, and the
/// same GEMM calls, so the same bits for the same values.
public func gemm(_ aa: UnsafePointer<Float>, lda: Int, m: Int, k: Int, transA: Bool = false,
                 _ b: Matrix, transB: Bool = false,
                 into c: inout Matrix, alpha: Float = 1, beta: Float = 0, context: NumericContext = .serial) {
    let kb = transB ? b.cols : b.rows
    let n = transB ? b.rows : b.cols
    precondition(k == kb, "gemm inner dimensions differ: \(k) vs \(kb)")
    precondition(c.rows == m && c.cols == n, "gemm output is [\(c.rows),\(c.cols)], needs [\(m),\(n)]")
    let ldb = b.cols, ldc = c.cols
    // Enough work per worker to pay for the hand-off: at least 32 rows and about 2^18 multiply-adds.
    let lanes = min(context.threads, m / 32, max(1, m * n * k / (1 << 18)))
    b.data.withUnsafeBufferPointer { pb in
        c.data.withUnsafeMutableBufferPointer { pc in
            guard let bb = pb.baseAddress, let cc = pc.baseAddress else { return }
            guard lanes > 1 else {
                BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: aa, lda: lda,
                           b: bb, ldb: ldb, beta: beta, c: cc, ldc: ldc)
                return
            }
            let (pA, pB, pC) = (SendablePointer(aa), SendablePointer(bb), SendableMutablePointer(cc))
            let block = ((m + lanes - 1) / lanes + 15) / 16 * 16
            DispatchQueue.concurrentPerform(iterations: lanes) { lane in
                let r0 = lane * block, r1 = min(m, r0 + block)
                guard r0 < r1, let a0 = pA.pointer, let b0 = pB.pointer, let c0 = pC.pointer else { return }
                // Rows r0..<r1 of op(A): rows of A, or columns of a transposed A.
                let aBlock = transA ? a0 + r0 : a0 + r0 * lda
                BLAS.sgemm(transA: transA, transB: transB, m: r1 - r0, n: n, k: k, alpha: alpha, a: aBlock,
                           lda: lda, b: b0, ldb: ldb, beta: beta, c: c0 + r0 * ldc, ldc: ldc)
            }
        }
    }
}

/// C = alpha * op(A) op(B) + beta * C for row-major `Double` buffers with the given shapes.
public func dgemm(_ a: [Double], _ aRows: Int, _ aCols: Int, transA: Bool = false,
                  _ b: [Double], _ bRows: Int, _ bCols: Int, transB: Bool = false,
                  into c: inout [Double], alpha: Double = 1, beta: Double = 0) {
    let m = transA ? aCols : aRows
    let k = transA ? aRows : aCols
    let n = transB ? bRows : bCols
    precondition(k == (transB ? bCols : bRows), "dgemm inner dimensions differ")
    precondition(c.count == m * n, "dgemm output has \(c.count) values, needs \(m * n)")
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            c.withUnsafeMutableBufferPointer { pc in
                guard let aa = pa.baseAddress, let bb = pb.baseAddress, let cc = pc.baseAddress else {
                    return
                }
                BLAS.dgemm(transA: transA, transB: transB, m: m, n: n, k: k,
                           alpha: alpha, a: aa, lda: aCols, b: bb, ldb: bCols,
                           beta: beta, c: cc, ldc: n)
            }
        }
    }
}
