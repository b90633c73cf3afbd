import Foundation

/// Seconds since an arbitrary origin, monotonic: the one clock for GEMM profiling, the trainer's step
/// phases and the benchmarks.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
