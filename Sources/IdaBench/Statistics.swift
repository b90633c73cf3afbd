/// The summaries the benchmarks print of repeated timings.
public enum Statistics {
    /// The median of `values` (mean of the two middle ones for an even count); 0 when empty.
    public static func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        guard !s.isEmpty else { return 0 }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// The q-quantile of `values` by nearest rank (the smallest value with at least q of them at or
    /// below it); 0 when empty.
    public static func nearestRank(_ values: [Double], _ q: Double) -> Double {
        let s = values.sorted()
        guard !s.isEmpty else { return 0 }
        return s[min(s.count - 1, max(0, Int((q * Double(s.count)).rounded(.up)) - 1))]
    }

    /// The mean of `values`; 0 when empty.
    public static func mean(_ values: [Int]) -> Double {
        values.isEmpty ? 0 : Double(values.reduce(0, +)) / Double(values.count)
    }
}
