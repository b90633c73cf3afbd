import IdaRouting
import IdaNumerics

/// How two routers of the same MoE layer route the same probe tokens: agreement (raw and after matching
/// experts), load, balance, entropy, component changes (IDA) and per-domain expert use.
///
/// A pure function of two `LayerRoutingSummary` values and `ComparisonOptions`. Raw figures compare
/// expert indices as they are; matched figures first map A's experts to B's by the maximum
/// co-assignment matching. Both are always computed; `comparableIndices` says which one to lead with.
public struct LayerComparison: Sendable, Equatable {
    /// Top-1 agreement and top-k overlap of two routings.
    public struct Agreement: Sendable, Equatable {
        /// Share of tokens whose best expert is the same.
        public var top1: Double
        /// Mean over tokens of |S_A ∩ S_B| / |S_A ∪ S_B| for the top-k expert sets.
        public var topKJaccard: Double

        /// Agreement figures.
        public init(top1: Double, topKJaccard: Double) {
            self.top1 = top1
            self.topKJaccard = topKJaccard
        }
    }

    /// Expert use of one probe domain on both sides.
    public struct DomainShares: Sendable, Equatable {
        /// Domain id.
        public var domain: Int
        /// Domain name ("" when the probe names none).
        public var name: String
        /// Tokens of the domain in the probe.
        public var tokens: Int
        /// Share of the domain's tokens whose best expert is e, in A [E_A].
        public var sharesA: [Double]
        /// The same in B [E_B].
        public var sharesB: [Double]
        /// Total variation distance between the two share vectors, index by index.
        public var shiftRaw: Double
        /// The same after mapping A's experts through the matching (unmatched mass counts as moved).
        public var shiftMatched: Double
    }

    /// MoE block index.
    public var layer: Int
    /// Tokens N.
    public var tokens: Int
    /// Router kinds of A and B.
    public var kindA, kindB: RouterKind
    /// Experts E of A and B.
    public var expertsA, expertsB: Int
    /// Experts per token k of A and B.
    public var topKA, topKB: Int
    /// Same run and same router kind and shape: expert indices mean the same on both sides, so raw
    /// figures lead; otherwise the matched ones do.
    public var comparableIndices: Bool
    /// Agreement of the indices as they are.
    public var raw: Agreement
    /// Agreement after mapping A's experts through `matching`.
    public var matched: Agreement
    /// The B expert matched to each A expert (nil when E_A > E_B leaves it unmatched) [E_A].
    public var matching: [Int?]
    /// Whether `matching` maps every expert to itself (and E_A = E_B).
    public var matchingIsIdentity: Bool
    /// Tokens whose best expert is a in A and b in B [E_A, E_B], row-major.
    public var coAssignment: [Int]
    /// Share of all tokens on matched pairs (equals `matched.top1`).
    public var coAssignmentKept: Double
    /// For each A expert, the share of its top-1 tokens whose B top-1 is its match (nil: no tokens or unmatched).
    public var keptPerExpert: [Double?]
    /// Load (share of the N*k assignments) per expert in A [E_A] and B [E_B].
    public var loadA, loadB: [Double]
    /// Share of the total gate weight per expert on each side [E_A], [E_B] (empty when a side's
    /// summary holds none).
    public var loadGateA: [Double] = [], loadGateB: [Double] = []
    /// Share of tokens whose best expert is e, in A [E_A] and B [E_B].
    public var top1SharesA, top1SharesB: [Double]
    /// loadB - loadA index by index (nil when E_A != E_B).
    public var loadDelta: [Double]?
    /// loadB[matching[a]] - loadA[a] per A expert (nil when unmatched).
    public var matchedLoadDelta: [Double?]
    /// Coefficient of variation of the load in A and B.
    public var cvA, cvB: Double
    /// Mean routing entropy in bits in A and B.
    public var meanEntropyA, meanEntropyB: Double
    /// Per-token entropy change, B - A, in bits.
    public var entropyChange: ValueDistribution
    /// Component figures when both routers are IDA routers.
    public var components: ComponentChanges?
    /// Expert use per probe domain (empty when the probe has no domains).
    public var domains: [DomainShares]

    /// Compares two routings of the same tokens.
    public init(_ a: LayerRoutingSummary, _ b: LayerRoutingSummary, options: ComparisonOptions) throws(ComparisonError) {
        try Self.check(a, b, options)
        let n = a.tokens
        layer = a.layer
        tokens = n
        kindA = a.routerKind
        kindB = b.routerKind
        expertsA = a.experts
        expertsB = b.experts
        topKA = a.topK
        topKB = b.topK
        comparableIndices = options.sameRun && a.routerKind == b.routerKind && a.experts == b.experts
            && a.componentsPerExpert == b.componentsPerExpert
        let counts = Self.coAssignments(a, b)
        coAssignment = counts.top1
        let matching = try Self.match(counts, a, b)
        self.matching = matching
        matchingIsIdentity = a.experts == b.experts && matching.enumerated().allSatisfy { $0.element == $0.offset }
        raw = Self.agreement(a, b, mapping: (0..<a.experts).map { $0 < b.experts ? $0 : nil })
        matched = Self.agreement(a, b, mapping: matching)
        var kept = 0
        keptPerExpert = []
        for e in 0..<a.experts {
            let row = counts.top1[(e * b.experts)..<((e + 1) * b.experts)].reduce(0, +)
            let onMatch = matching[e].map { counts.top1[e * b.experts + $0] } ?? 0
            kept += onMatch
            keptPerExpert.append(row > 0 && matching[e] != nil ? Double(onMatch) / Double(row) : nil)
        }
        coAssignmentKept = n > 0 ? Double(kept) / Double(n) : 0
        loadA = a.load
        loadB = b.load
        loadGateA = a.loadGate.count == a.experts ? a.loadGate : []
        loadGateB = b.loadGate.count == b.experts ? b.loadGate : []
        let total = Double(max(n, 1))
        top1SharesA = (0..<a.experts).map { e in Double((0..<b.experts).reduce(0) { $0 + counts.top1[e * b.experts + $1] }) / total }
        top1SharesB = (0..<b.experts).map { e in Double((0..<a.experts).reduce(0) { $0 + counts.top1[$1 * b.experts + e] }) / total }
        loadDelta = a.experts == b.experts ? zip(b.load, a.load).map { $0 - $1 } : nil
        matchedLoadDelta = matching.enumerated().map { e, m in m.map { b.load[$0] - a.load[e] } }
        cvA = a.cv
        cvB = b.cv
        meanEntropyA = Self.mean(a.entropyBits)
        meanEntropyB = Self.mean(b.entropyBits)
        entropyChange = ValueDistribution((0..<n).map { Double(b.entropyBits[$0]) - Double(a.entropyBits[$0]) })
        components = ComponentChanges(a, b, options: options)
        domains = Self.domainShares(a, b, options, matching: matching)
    }

    /// Refuses summaries that do not describe the same tokens and layer with consistent array sizes.
    static func check(_ a: LayerRoutingSummary, _ b: LayerRoutingSummary, _ options: ComparisonOptions) throws(ComparisonError) {
        guard a.layer == b.layer else {
            throw .summaryMismatch(layer: a.layer, problem: "A is layer \(a.layer), B is layer \(b.layer)")
        }
        guard a.tokens == b.tokens else {
            throw .summaryMismatch(layer: a.layer, problem: "A routed \(a.tokens) tokens, B \(b.tokens)")
        }
        for (side, s) in [("A", a), ("B", b)] {
            func bad(_ problem: String) -> ComparisonError { .summaryMismatch(layer: a.layer, problem: "\(side): \(problem)") }
            guard SizeLimits.within(s.experts, SizeLimits.experts), s.topK >= 1, s.topK <= s.experts else {
                throw bad("E = \(s.experts), k = \(s.topK) outside 1 <= k <= E <= \(SizeLimits.experts)")
            }
            guard s.selected.count == s.tokens * s.topK, s.load.count == s.experts else {
                throw bad("\(s.selected.count) choices and \(s.load.count) loads for N = \(s.tokens), k = \(s.topK), E = \(s.experts)")
            }
            guard s.selected.allSatisfy({ $0 >= 0 && Int($0) < s.experts }) else { throw bad("an expert index outside 0..<\(s.experts)") }
            if let t = s.topComponent, t.count != s.tokens || !t.allSatisfy({ $0 >= 0 && Int($0) < s.components }) {
                throw bad("top components do not fit N = \(s.tokens), K = \(s.components)")
            }
            for (name, count) in [("usage", s.componentUsage?.count), ("priors", s.priors?.count)] {
                if let count, count != s.components { throw bad("\(count) \(name) for K = \(s.components)") }
            }
            if let mu = s.means, mu.count != s.components * s.latentDim {
                throw bad("\(mu.count) mean values for K x P = \(s.components) x \(s.latentDim)")
            }
        }
        if let d = options.domains, d.count != a.tokens {
            throw .summaryMismatch(layer: a.layer, problem: "\(d.count) domain labels for \(a.tokens) tokens")
        }
    }

    static func mean(_ values: [Float]) -> Double {
        values.isEmpty ? 0 : values.reduce(0.0) { $0 + Double($1) } / Double(values.count)
    }
}
