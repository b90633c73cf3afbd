import COpenBLAS
import Foundation
import Synchronization
import IdaSystem

/// Single-precision BLAS entry points used by idamoe; the only Swift code that calls OpenBLAS.
public enum BLAS {
    /// When true, `sgemm` and `dgemm` add their wall time to `gemmSeconds` (benchmarks only). GEMMs
    /// running at the same time on several threads each add their own time.
    nonisolated(unsafe) public static var profiling = false
    private static let gemmTotal = Mutex(0.0)

    /// Seconds spent inside GEMM calls while `profiling` was on, summed over calling threads.
    public static var gemmSeconds: Double {
        get { gemmTotal.withLock { $0 } }
        set { gemmTotal.withLock { $0 = newValue } }
    }

    @usableFromInline
    static func addGEMMTime(_ seconds: Double) {
        gemmTotal.withLock { $0 += seconds }
    }

    /// OpenBLAS runs single-threaded in every idamoe process, set once before the first GEMM and never
    /// changed: parallel work is split by the callers' own workers (IdaNumerics' `NumericContext`), so
    /// no kernel changes process-wide state and a GEMM's result never depends on another thread's setting.
    @usableFromInline
    static let singleThreaded: Bool = {
        openblas_set_num_threads(1)
        return true
    }()

    /// The number of threads OpenBLAS uses (1 once any GEMM has run).
    public static var threads: Int {
        _ = singleThreaded
        return Int(openblas_get_num_threads())
    }

    /// The empty cases, done here so they are well defined: nothing for m = 0 or n = 0, and C = beta * C
    /// for k = 0 (BLAS would still scale C). Returns whether the call is complete.
    @inlinable
    static func handledEmpty<T: FloatingPoint>(m: Int, n: Int, k: Int, beta: T, c: UnsafeMutablePointer<T>, ldc: Int) -> Bool {
        if m == 0 || n == 0 { return true }
        guard k == 0 else { return false }
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
        return true
    }

    /// C[m,n] = alpha * op(A) * op(B) + beta * C, all row-major.
    /// op(A) is [m,k] (A stored [k,m] when transA), op(B) is [k,n] (B stored [n,k] when transB).
    @inlinable
    public static func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        _ = singleThreaded
        if handledEmpty(m: m, n: n, k: k, beta: beta, c: c, ldc: ldc) { return }
        let start = profiling ? monotonicSeconds() : 0
        defer { if profiling { addGEMMTime(monotonicSeconds() - start) } }
        cblas_sgemm(CblasRowMajor,
                    transA ? CblasTrans : CblasNoTrans,
                    transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb),
                    beta, c, Int32(ldc))
    }

    /// C[m,n] = alpha * op(A) * op(B) + beta * C in double precision, all row-major; see `sgemm`.
    @inlinable
    public static func dgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Double, a: UnsafePointer<Double>, lda: Int,
        b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        _ = singleThreaded
        if handledEmpty(m: m, n: n, k: k, beta: beta, c: c, ldc: ldc) { return }
        let start = profiling ? monotonicSeconds() : 0
        defer { if profiling { addGEMMTime(monotonicSeconds() - start) } }
        cblas_dgemm(CblasRowMajor,
                    transA ? CblasTrans : CblasNoTrans,
                    transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb),
                    beta, c, Int32(ldc))
    }
}
