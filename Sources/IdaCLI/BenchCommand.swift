import IdaBench
import ArgumentParser
import Foundation
import IdaBLAS
import IdaNumerics
import IdaSystem

/// `idamoe bench`: measured speed of the hot paths (benchmarks, not tests).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the speed of routing, training and rendering.",
        subcommands: [BenchRouteCommand.self, BenchTrainCommand.self, BenchRenderCommand.self, BenchSynthCommand.self,
                      BenchScaleCommand.self])
}

/// Peak resident memory of this process in MiB.
func peakResidentMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024  // Linux reports KiB
}

/// The best dgemm rate (GFLOP/s) on n x n x n over a few repetitions, single-threaded (as each of
/// `idamoe route`'s workers calls it).
func measureDgemmPeak(n: Int = 1024, repeats: Int = 5) -> Double {
    let a = [Double](repeating: 0.5, count: n * n), b = [Double](repeating: 0.25, count: n * n)
    var c = [Double](repeating: 0, count: n * n)
    dgemm(a, n, n, b, n, n, into: &c)  // warm-up
    var best = Double.infinity
    for _ in 0..<repeats {
        let t0 = monotonicSeconds()
        dgemm(a, n, n, b, n, n, into: &c)
        best = min(best, monotonicSeconds() - t0)
    }
    return 2 * Double(n * n * n) / best / 1e9
}

/// The best sgemm rate (GFLOP/s) on n x n x n over a few repetitions, with the current thread count.
func measureSgemmPeak(n: Int = 1024, repeats: Int = 5, threads: Int) -> Double {
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
