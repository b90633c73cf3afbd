/// Routing statistics of one MoE layer over a set of tokens.
public struct LayerMetrics: Sendable, Equatable {
    /// Tokens N.
    public var tokens: Int
    /// load_e: share of the N*k assignments that went to expert e [E].
    public var load: [Double]
    /// Coefficient of variation of the load: population std / mean.
    public var cv: Double
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
    public static func deadComponents(usage: [Double], priors: [Double], tau: Double = 0.1) -> [Int] {
        guard !priors.isEmpty, usage.count == priors.count else { return [] }
        let threshold = tau / Double(priors.count)
        return priors.indices.filter { usage[$0] < threshold && priors[$0] < threshold }
    }

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
        self.componentCounts = [Double](repeating: 0, count: components)
    }

    /// Adds a routed block.
    public mutating func add(_ result: RoutingResult) {
        tokens += result.tokens
        for s in result.selected { assignments[Int(s)] += 1 }
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
    public func finish(priors: [Double]? = nil, tau: Double = 0.1) -> LayerMetrics {
        let total = assignments.reduce(0, +)
        let load = assignments.map { total > 0 ? $0 / total : 0 }
        let n = Double(max(tokens, 1))
        var usage: [Double]? = nil
        var dead: Int? = nil
        if components > 0 {
            let u = componentCounts.map { $0 / n }
            usage = u
            if let pi = priors, pi.count == components {
                dead = LayerMetrics.deadComponents(usage: u, priors: pi, tau: tau).count
            }
        }
        return LayerMetrics(tokens: tokens, load: load, cv: LayerMetrics.coefficientOfVariation(load),
                            meanEntropyBits: tokens > 0 ? entropySum / n : 0,
                            nll: sawDensity ? -logDensitySum / n : nil,
                            componentUsage: usage, deadComponents: dead)
    }
}
