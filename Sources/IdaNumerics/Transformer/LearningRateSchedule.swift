import Foundation

/// Linear warmup to `peak` over `warmup` steps, then cosine decay to `minRatio * peak` at step `total`.
public struct LearningRateSchedule: Sendable, Equatable {
    /// Rate at the end of warmup.
    public var peak: Float
    /// Warmup steps (0 for none).
    public var warmup: Int
    /// Step at which the decay reaches its floor.
    public var total: Int
    /// Floor as a fraction of `peak`.
    public var minRatio: Float

    /// A schedule; `total` should be at least `warmup`.
    public init(peak: Float, warmup: Int, total: Int, minRatio: Float = 0.1) {
        self.peak = peak
        self.warmup = max(0, warmup)
        self.total = max(total, self.warmup)
        self.minRatio = minRatio
    }

    /// The rate for 0-based `step`: peak (step + 1) / warmup during warmup (so step 0 already moves),
    /// peak at step `warmup`, then min + (peak - min)(1 + cos(pi s)) / 2 with s the decay progress,
    /// and min from `total` on.
    public func rate(at step: Int) -> Float {
        if step < warmup { return peak * Float(step + 1) / Float(warmup) }
        let floor = peak * minRatio
        if step >= total { return floor }
        let progress = Double(step - warmup) / Double(total - warmup)
        let coefficient = Float(0.5 * (1 + Foundation.cos(Double.pi * progress)))
        return floor + coefficient * (peak - floor)
    }
}
