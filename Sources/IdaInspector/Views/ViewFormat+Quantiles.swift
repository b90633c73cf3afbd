import IdaNumerics
import IdaTerminal

/// Quantile lines: the distribution of a layer's per-expert load, and of per-layer figures across
/// layers, by the quantiles `idamoe route` reports (`LayerMetrics.reportedQuantiles`: p50, p90, p99,
/// max), so a screen and route's table quote the same numbers.
extension ViewFormat {
    /// The widest of "p50 0.98x p90 1.20x p99 1.31x max 1.33x fair", "p50 1.0x … fair",
    /// "p50 1.0 p90 1.2 p99 1.3 max 1.3" and "p50 1.0 p99 1.3 max 1.3" that fits `width`: the load
    /// [E] over its fair share 1/E (empty when the load is).
    static func loadQuantiles(_ load: [Double], width: Int) -> String {
        guard !load.isEmpty else { return "" }
        let fair = 1 / Double(load.count)
        let q = LayerMetrics.quantiles(load, LayerMetrics.reportedQuantiles).map { $0 / fair }
        let names = ["p50", "p90", "p99", "max"]
        func line(_ decimals: Int, suffix: String, keep: [Int] = [0, 1, 2, 3]) -> String {
            keep.map { names[$0] + " " + NumberText.fixed(q[$0], decimals: decimals) + suffix }.joined(separator: " ")
                + (suffix.isEmpty ? "" : " fair")
        }
        let choices = [line(2, suffix: "x"), line(1, suffix: "x"), line(1, suffix: ""), line(1, suffix: "", keep: [0, 2, 3])]
        return choices.first { DisplayWidth.of($0) <= width } ?? choices[choices.count - 1]
    }

    /// "p50 0.213 p90 0.301 p99 0.322 max 0.325": the quantiles of per-layer `values`, in the widest
    /// of three forms that fits `width` (fewer decimals, then without p99).
    static func acrossQuantiles(_ values: [Double], decimals: Int, width: Int) -> String {
        let q = LayerMetrics.quantiles(values, LayerMetrics.reportedQuantiles)
        let names = ["p50", "p90", "p99", "max"]
        func line(_ d: Int, _ keep: [Int]) -> String {
            keep.map { names[$0] + " " + NumberText.fixed(q[$0], decimals: d) }.joined(separator: " ")
        }
        let choices = [line(decimals, [0, 1, 2, 3]), line(min(decimals, 2), [0, 1, 2, 3]), line(min(decimals, 2), [0, 1, 3])]
        return choices.first { DisplayWidth.of($0) <= width } ?? choices[choices.count - 1]
    }

    /// The quantiles of the per-layer CVs and MaxVios across layers in at most `rows` lines of
    /// `width`: one ("across 48 layers: train CV p50 … · MaxVio p50 …") when it fits, else a line
    /// each ("train CV p50 0.213 p90 0.301 p99 0.322 max 0.325", "MaxVio   p50 1.23 …").
    static func acrossLayers(cv: [Double], cvName: String, maxVio: [Double], width: Int, rows: Int, dot: String) -> [String] {
        let one = "across \(cv.count) layers: " + cvName + " " + acrossQuantiles(cv, decimals: 3, width: .max) + dot
            + "MaxVio " + acrossQuantiles(maxVio, decimals: 2, width: .max)
        if DisplayWidth.of(one) <= width || rows < 1 { return rows < 1 ? [] : [one] }
        let label = max(DisplayWidth.of(cvName), 6) + 1
        let cvLine = padRight(cvName, label) + acrossQuantiles(cv, decimals: 3, width: width - label)
        let vioLine = padRight("MaxVio", label) + acrossQuantiles(maxVio, decimals: 2, width: width - label)
        return rows >= 2 ? [cvLine, vioLine] : [cvLine]
    }
}
