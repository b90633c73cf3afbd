import IdaSystem

/// Wall time of a piece of work on IdaSystem's monotonic clock.
public enum Stopwatch {
    /// Milliseconds `body` took.
    public static func milliseconds(_ body: () throws -> Void) rethrows -> Double {
        let t0 = monotonicSeconds()
        try body()
        return 1000 * (monotonicSeconds() - t0)
    }
}
