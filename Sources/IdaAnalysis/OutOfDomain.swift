import IdaRouting
import IdaNumerics

/// How a router treats tokens of domains the model never trained on (`idamoe train
/// --holdout-domains`) against the domains it saw, over a probe: for IDA, whether the mixture's
/// log-density flags them (AUROC of -log p(z) as an out-of-domain detector); for every router, the
/// routing entropy and the load's CV on each side.
public struct OutOfDomain: Sendable {
    /// One layer's comparison.
    public struct Figures: Sendable, Equatable {
        /// Tokens on each side.
        public var seenTokens: Int, heldOutTokens: Int
        /// AUROC of -log p(z) with held-out tokens as positives (IDA only).
        public var auroc: Double?
        /// Mean log p(z) on each side (IDA only).
        public var seenLogDensity: Double?, heldOutLogDensity: Double?
        /// Mean routing entropy (bits) on each side.
        public var seenEntropy: Double, heldOutEntropy: Double
        /// CV of the top-k load on each side.
        public var seenCV: Double, heldOutCV: Double
    }

    /// Whether each probe token belongs to a held-out domain.
    let heldOut: [Bool]
    /// MoE layers in routing slot order.
    public let layers: [Int]
    var seenDensity: [[Double]], heldOutDensity: [[Double]]
    var seen: [LayerMetricsAccumulator], held: [LayerMetricsAccumulator]

    /// Splits the probe's tokens by `domains` (names from the probe); throws when the probe has no
    /// domains or a name is not one of them.
    public init(probe: Probe, heldOutDomains: [String], layers: [Int], experts: [Int]) throws {
        guard let domains = probe.domains else {
            throw RoutingError.invalidOption("the probe has no domains, so held-out tokens cannot be told apart")
        }
        var ids = Set<Int32>()
        for name in heldOutDomains {
            guard let d = probe.domainNames.firstIndex(of: name) else {
                throw RoutingError.invalidOption("'\(name)' is not a domain of the probe")
            }
            ids.insert(Int32(d))
        }
        heldOut = domains.map { ids.contains($0) }
        self.layers = layers
        seenDensity = layers.map { _ in [] }
        heldOutDensity = layers.map { _ in [] }
        seen = experts.map { LayerMetricsAccumulator(experts: $0, components: 0) }
        held = experts.map { LayerMetricsAccumulator(experts: $0, components: 0) }
    }

    /// Adds the routings of tokens `rows` (one per layer, in slot order).
    public mutating func add(rows: Range<Int>, results: [RoutingResult]) {
        for (slot, result) in results.enumerated() {
            var start = 0
            // Runs of tokens on one side go in together.
            while start < rows.count {
                let side = heldOut[rows.lowerBound + start]
                var end = start + 1
                while end < rows.count && heldOut[rows.lowerBound + end] == side { end += 1 }
                let part = result.rows(start..<end)
                if side { held[slot].add(part) } else { seen[slot].add(part) }
                if let d = part.logDensity {
                    if side { heldOutDensity[slot] += d } else { seenDensity[slot] += d }
                }
                start = end
            }
        }
    }

    /// The figures of routing slot `slot`.
    public func figures(slot: Int) -> Figures {
        let s = seen[slot].finish(), h = held[slot].finish()
        func mean(_ v: [Double]) -> Double? { v.isEmpty ? nil : v.reduce(0, +) / Double(v.count) }
        return Figures(seenTokens: s.tokens, heldOutTokens: h.tokens,
                       auroc: areaUnderROC(positive: heldOutDensity[slot].map { -$0 }, negative: seenDensity[slot].map { -$0 }),
                       seenLogDensity: mean(seenDensity[slot]), heldOutLogDensity: mean(heldOutDensity[slot]),
                       seenEntropy: s.meanEntropyBits, heldOutEntropy: h.meanEntropyBits,
                       seenCV: s.cv, heldOutCV: h.cv)
    }
}
