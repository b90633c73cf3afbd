import IdaFormats
import IdaRouting
import IdaTerminal

/// Number formats shared by the screens (no Foundation, so frames never depend on the locale).
enum ViewFormat {
    /// A change of share in percentage points with its sign: "+3.2", "-0.4", "0.0".
    static func signedPoints(_ change: Double) -> String {
        let points = change * 100
        let text = NumberText.fixed(points, decimals: 1)
        return points > 0 && text != "0.0" ? "+" + text : text
    }

    /// A rate with a k/M suffix: "950", "12.3k", "1.2M".
    static func rate(_ value: Double) -> String {
        guard value.isFinite else { return NumberText.fixed(value, decimals: 0) }
        if value >= 1_000_000 { return NumberText.fixed(value / 1_000_000, decimals: 1) + "M" }
        if value >= 10_000 { return NumberText.fixed(value / 1000, decimals: 1) + "k" }
        return NumberText.fixed(value, decimals: 0)
    }

    /// `value` in at most `width` columns: as many of `decimals` decimals as fit, then a k or M
    /// suffix ("385.27", "2298", "12.3k", "-1.5M"), then an exponent ("-3e12"), so table columns
    /// never run into each other.
    static func fitting(_ value: Double, width: Int, decimals: Int = 3) -> String {
        guard value.isFinite else { return NumberText.fixed(value, decimals: 0) }
        for d in stride(from: decimals, through: 0, by: -1) {
            let text = NumberText.fixed(value, decimals: d)
            if text.count <= width { return text }
        }
        for (scale, suffix) in [(1e3, "k"), (1e6, "M"), (1e9, "G")] {
            let text = NumberText.fixed(value / scale, decimals: 1) + suffix
            if text.count <= width { return text }
        }
        // Beyond G: a one-digit mantissa and a decimal exponent ("-3e12").
        var mantissa = abs(value), exponent = 0
        while mantissa >= 9.5 {
            mantissa /= 10
            exponent += 1
        }
        return (value < 0 ? "-" : "") + String(Int(mantissa.rounded())) + "e" + String(exponent)
    }

    /// A value with three decimals ("0.423", "nan").
    /// How token `token` reads in a panel: the vocabulary's text, escaped by `UntrustedText` (a
    /// probe's vocab entries come from a file).
    static func token(_ token: Int32, _ vocabulary: Vocabulary) -> String {
        UntrustedText.sanitized(vocabulary.text(of: token))
    }

    static func fixed3(_ value: Double) -> String { NumberText.fixed(value, decimals: 3) }

    /// A value with two decimals.
    static func fixed2(_ value: Double) -> String { NumberText.fixed(value, decimals: 2) }

    /// `text` padded with spaces on the right to `width` columns (never cut).
    static func padRight(_ text: String, _ width: Int) -> String {
        let w = DisplayWidth.of(text)
        return w >= width ? text : text + String(repeating: " ", count: width - w)
    }

    /// `text` padded with spaces on the left to `width` columns (never cut).
    static func padLeft(_ text: String, _ width: Int) -> String {
        let w = DisplayWidth.of(text)
        return w >= width ? text : String(repeating: " ", count: width - w) + text
    }

    /// `values` reduced to at most `count` bucket means, so a whole run fits a sparkline; NaN
    /// values are skipped within a bucket (a bucket of only NaN stays NaN).
    static func buckets(_ values: [Double], count: Int) -> [Double] {
        guard count > 0, values.count > count else { return values }
        return (0..<count).map { b in
            let lo = b * values.count / count
            let hi = max(lo + 1, (b + 1) * values.count / count)
            let finite = values[lo..<hi].filter { !$0.isNaN }
            return finite.isEmpty ? .nan : finite.reduce(0, +) / Double(finite.count)
        }
    }

    /// The bucket (as in `buckets`) that holds value `index` of `total`.
    static func bucket(of index: Int, total: Int, count: Int) -> Int {
        guard count > 0, total > count else { return index }
        // Bucket b covers [b * total / count, (b + 1) * total / count).
        var b = index * count / total
        while b + 1 < count && (b + 1) * total / count <= index { b += 1 }
        while b > 0 && b * total / count > index { b -= 1 }
        return b
    }

    /// What a panel without its layer's analysis says: the layer is still being routed (the others
    /// finish in the background), or no snapshot has been analysed yet.
    static func waiting(_ state: InspectorState, ellipsis: String) -> String {
        if let analysis = state.analysis, !analysis.isComplete, let layer = state.layer {
            return "layer \(layer) is being analysed (\(analysis.layers.count)/\(analysis.layerOrder.count) layers done)" + ellipsis
        }
        if state.analysisFailure != nil, state.analysis == nil { return "no analysis (see the alerts)" }
        return "waiting for the first snapshot" + ellipsis
    }
}
