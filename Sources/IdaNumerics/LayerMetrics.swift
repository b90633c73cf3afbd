/// Routing statistics of one MoE layer over a set of tokens.
public struct LayerMetrics: Sendable, Equatable {
    /// Tokens N.
    public var tokens: Int
    /// load_e: share of the N*k assignments that went to expert e [E] (top-k load).
    public var load: [Double]
    /// Coefficient of variation of the top-k load: population std / mean.
    public var cv: Double
    /// Share of the N tokens whose first choice is expert e [E] (top-1 load).
    public var loadTop1: [Double] = []
    /// Share of the total gate weight that went to expert e [E] (gate-weighted load: a second expert
    /// with 0.3% of a token's gate counts 0.003, not 1).
    public var loadGate: [Double] = []
    /// CV of the top-1 load.
    public var cvTop1: Double { LayerMetrics.coefficientOfVariation(loadTop1) }
    /// CV of the gate-weighted load.
    public var cvGate: Double { LayerMetrics.coefficientOfVariation(loadGate) }
    /// Mean routing entropy in bits.
    public var meanEntropyBits: Double
    /// -mean log p(z) (IDA only).
    public var nll: Double?
    /// Share of tokens whose most probable component is k [K] (IDA only).
    public var componentUsage: [Double]?
    /// Components with usage and prior both below tau / K (IDA only, needs the priors).
    public var deadComponents: Int?

    /// Components whose usage and prior are both below tau / K (the reactivation rule measured on a
    /// probe or batch), ascending; none when the arrays disagree in length.
    public static func deadComponents(usage: [Double], priors: [Double], tau: Double = ReactivationConfig.defaultTau,
                                      priorMass: PriorMass = .global) -> [Int] {
        guard !priors.isEmpty, usage.count == priors.count else { return [] }
        let threshold = tau / Double(priors.count)
        return priors.indices.filter {
            ReactivationState.isDead(usage: usage[$0], prior: priors[$0], threshold: threshold, priorMass: priorMass)
        }
    }

    /// MaxVio of the top-1 load.
    public var maxVioTop1: Double { LayerMetrics.maxViolation(loadTop1) }
    /// MaxVio of the top-k load.
    public var maxVio: Double { LayerMetrics.maxViolation(load) }
    /// MaxVio of the gate-weighted load.
    public var maxVioGate: Double { LayerMetrics.maxViolation(loadGate) }

    /// MaxVio of a load: the largest expert's load over the mean load, minus 1 (the measure of the
    /// auxiliary-loss-free balancing paper; 0 when perfectly balanced, E - 1 when one expert takes all).
    public static func maxViolation(_ load: [Double]) -> Double {
        guard let largest = load.max() else { return 0 }
        let mean = load.reduce(0, +) / Double(load.count)
        return mean > 0 ? largest / mean - 1 : 0
    }

    /// The q-quantile (q in [0, 1]) of `values` by linear interpolation between order statistics (rank
    /// q (n - 1), numpy's default); 0 for no values.
    public static func quantile(_ values: [Double], _ q: Double) -> Double {
        quantiles(values, [q])[0]
    }

    /// Several quantiles of `values` from one sort.
    public static func quantiles(_ values: [Double], _ qs: [Double]) -> [Double] {
        guard !values.isEmpty else { return qs.map { _ in 0 } }
        let sorted = values.sorted()
        return qs.map { q in
            let rank = min(max(q, 0), 1) * Double(sorted.count - 1)
            let low = Int(rank.rounded(.down)), high = min(low + 1, sorted.count - 1)
            return sorted[low] + (sorted[high] - sorted[low]) * (rank - Double(low))
        }
    }

    /// The quantiles route, the inspector and the event log report a distribution by: p50, p90, p99, max.
    public static let reportedQuantiles: [Double] = [0.5, 0.9, 0.99, 1]

    /// CV of a load vector: population standard deviation over mean (0 for an empty or all-zero load).
    public static func coefficientOfVariation(_ load: [Double]) -> Double {
        guard !load.isEmpty else { return 0 }
        let mean = load.reduce(0, +) / Double(load.count)
        guard mean > 0 else { return 0 }
        let variance = load.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(load.count)
        return variance.squareRoot() / mean
    }
}

/// Accumulates `LayerMetrics` block by block, so a probe of any length streams in bounded memory.
public struct LayerMetricsAccumulator: Sendable {
    /// Experts E.
    public let experts: Int
    /// Components K (0 for softmax routers).
    public let components: Int
    var assignments: [Double]
    var firstChoices: [Double]
    var gateSums: [Double]
    var componentCounts: [Double]
    var tokens = 0
    var entropySum = 0.0
    var logDensitySum = 0.0
    var sawDensity = false

    /// An empty accumulator for E experts and K components (K = 0 for softmax routers).
    public init(experts: Int, components: Int) {
        self.experts = experts
        self.components = components
        self.assignments = [Double](repeating: 0, count: experts)
        self.firstChoices = [Double](repeating: 0, count: experts)
        self.gateSums = [Double](repeating: 0, count: experts)
        self.componentCounts = [Double](repeating: 0, count: components)
    }

    /// Adds a routed block.
    public mutating func add(_ result: RoutingResult) {
        tokens += result.tokens
        for s in result.selected { assignments[Int(s)] += 1 }
        let k = result.topK
        if k > 0 {
            for n in 0..<result.tokens { firstChoices[Int(result.selected[n * k])] += 1 }
        }
        for (s, w) in zip(result.selected, result.weights) { gateSums[Int(s)] += Double(w) }
        for h in result.entropyBits { entropySum += h }
        if let density = result.logDensity {
            sawDensity = true
            for v in density { logDensitySum += v }
        }
        if let top = result.topComponent, components > 0 {
            for c in top { componentCounts[Int(c)] += 1 }
        }
    }

    /// The metrics so far; `priors` [K] and tau enable the dead-component count.
    public func finish(priors: [Double]? = nil, priorMass: PriorMass = .global, tau: Double = ReactivationConfig.defaultTau) -> LayerMetrics {
        let total = assignments.reduce(0, +)
        let load = assignments.map { total > 0 ? $0 / total : 0 }
        let n = Double(max(tokens, 1))
        var usage: [Double]? = nil
        var dead: Int? = nil
        if components > 0 {
            let u = componentCounts.map { $0 / n }
            usage = u
            if let pi = priors, pi.count == components {
                dead = LayerMetrics.deadComponents(usage: u, priors: pi, tau: tau, priorMass: priorMass).count
            }
        }
        var metrics = LayerMetrics(tokens: tokens, load: load, cv: LayerMetrics.coefficientOfVariation(load),
                                   meanEntropyBits: tokens > 0 ? entropySum / n : 0,
                                   nll: sawDensity ? -logDensitySum / n : nil,
                                   componentUsage: usage, deadComponents: dead)
        metrics.loadTop1 = firstChoices.map { tokens > 0 ? $0 / n : 0 }
        let gateTotal = gateSums.reduce(0, +)
        metrics.loadGate = gateSums.map { gateTotal > 0 ? $0 / gateTotal : 0 }
        return metrics
    }
}
