import IdaRouting
/// Summary of a set of per-token values (for example the change of routing entropy from A to B):
/// mean, quantiles and a histogram symmetric around zero.
public struct ValueDistribution: Sendable, Equatable {
    /// Mean value.
    public var mean: Double
    /// Quantiles at 5, 25, 50, 75 and 95 % (linear interpolation between order statistics).
    public var p5, p25, p50, p75, p95: Double
    /// Histogram range: equal-width bins over [-limit, limit], limit = the largest |value|.
    public var limit: Double
    /// Values per bin, lowest bin first; the middle bin holds zero.
    public var counts: [Int]

    /// Bins of the histogram (odd, so that zero has a bin of its own centre).
    public static let bins = 9

    /// The distribution of `values`; an empty set gives zeros everywhere.
    public init(_ values: [Double]) {
        let sorted = values.sorted()
        func quantile(_ q: Double) -> Double {
            guard let first = sorted.first else { return 0 }
            guard sorted.count > 1 else { return first }
            // Type 7 (the default of R and numpy): h = (n - 1) q, interpolate between floor and ceiling.
            let h = Double(sorted.count - 1) * q
            let lo = Int(h.rounded(.down))
            let hi = min(lo + 1, sorted.count - 1)
            return sorted[lo] + (h - Double(lo)) * (sorted[hi] - sorted[lo])
        }
        mean = values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
        p5 = quantile(0.05)
        p25 = quantile(0.25)
        p50 = quantile(0.5)
        p75 = quantile(0.75)
        p95 = quantile(0.95)
        let limit = max(abs(sorted.first ?? 0), abs(sorted.last ?? 0))
        var counts = [Int](repeating: 0, count: Self.bins)
        for v in values {
            var bin = Self.bins / 2
            if limit > 0 {
                let position = (v + limit) / (2 * limit) * Double(Self.bins)
                bin = min(max(Int(position.rounded(.down)), 0), Self.bins - 1)
            }
            counts[bin] += 1
        }
        self.limit = limit
        self.counts = counts
    }
}
