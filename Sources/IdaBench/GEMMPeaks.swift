import IdaNumerics
import IdaSystem

/// The best GEMM rates this machine reaches, the yardstick the benchmarks state their GFLOP/s against.
public enum GEMMPeaks {
    /// The best dgemm rate (GFLOP/s) on n x n x n over a few repetitions, single-threaded (as each of
    /// `idamoe route`'s workers calls it).
    public static func dgemm(n: Int = 1024, repeats: Int = 5) -> Double {
        let a = [Double](repeating: 0.5, count: n * n), b = [Double](repeating: 0.25, count: n * n)
        var c = [Double](repeating: 0, count: n * n)
        IdaNumerics.dgemm(a, n, n, b, n, n, into: &c)  // warm-up
        var best = Double.infinity
        for _ in 0..<repeats {
            let t0 = monotonicSeconds()
            IdaNumerics.dgemm(a, n, n, b, n, n, into: &c)
            best = min(best, monotonicSeconds() - t0)
        }
        return 2 * Double(n * n * n) / best / 1e9
    }

    /// The best sgemm rate (GFLOP/s) on n x n x n over a few repetitions, on `threads` threads.
    public static func sgemm(n: Int = 1024, repeats: Int = 5, threads: Int) -> Double {
        let a = Matrix(rows: n, cols: n, repeating: 0.5)
        let b = Matrix(rows: n, cols: n, repeating: 0.25)
        var c = Matrix(rows: n, cols: n)
        let context = NumericContext(threads: threads)
        gemm(a, b, into: &c, context: context)  // warm-up
        var best = Double.infinity
        for _ in 0..<repeats {
            let t0 = monotonicSeconds()
            gemm(a, b, into: &c, context: context)
            best = min(best, monotonicSeconds() - t0)
        }
        return 2 * Double(n * n * n) / best / 1e9
    }
}
