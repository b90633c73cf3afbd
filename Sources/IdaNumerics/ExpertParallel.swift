/// Expert parallelism: which rank (GPU) holds which expert, and the share of a layer's assignments
/// each rank then processes (what stalls a step is its busiest rank). docs/format.md, "The
/// expert-parallel view".
///
/// A placement is S physical slots laid out rank-major over G ranks: slot s lives on rank
/// floor(s G / S) and holds logical expert `slots[s]`. An expert held by several slots (a replica,
/// as EPLB places them) has its load split evenly among them.
public struct ExpertPlacement: Sendable, Equatable {
    /// Ranks G.
    public let ranks: Int
    /// Logical expert of each physical slot [S].
    public let slots: [Int]
    /// The most physical slots a placement or a what-if may have (E + R): far beyond any deployment's,
    /// and small enough that a mistyped R costs no memory to refuse.
    public static let maxSlots = 1 << 16

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case ranks(ranks: Int, slots: Int)
        case expert(slot: Int, expert: Int, experts: Int)
        case unplaced(expert: Int)
        case slotsNotDivisible(slots: Int, ranks: Int)
        case tooManySlots(slots: Int)

        public var description: String {
            switch self {
            case .ranks(let g, let s): return "\(g) ranks for \(s) expert slots: there must be 1 to \(max(s, 1)) ranks"
            case .expert(let s, let e, let n): return "slot \(s) holds expert \(e), not one of the layer's 0...\(n - 1)"
            case .unplaced(let e): return "expert \(e) has no slot: every expert must be placed on some rank"
            case .slotsNotDivisible(let s, let g):
                return "\(s) slots do not split evenly over \(g) ranks: E + R must be a multiple of G"
            case .tooManySlots(let s): return "\(s) slots: at most \(ExpertPlacement.maxSlots)"
            }
        }
    }

    /// A placement of the layer's `experts` experts; every expert must have a slot.
    public init(ranks: Int, slots: [Int], experts: Int) throws(Failure) {
        guard ranks >= 1, ranks <= slots.count else { throw .ranks(ranks: ranks, slots: slots.count) }
        var placed = [Bool](repeating: false, count: experts)
        for (s, e) in slots.enumerated() {
            guard e >= 0, e < experts else { throw .expert(slot: s, expert: e, experts: experts) }
            placed[e] = true
        }
        if let missing = placed.firstIndex(of: false) { throw .unplaced(expert: missing) }
        self.ranks = ranks
        self.slots = slots
    }

    /// Expert e on rank floor(e G / E), one slot each (Megatron's and most frameworks' default).
    public static func contiguous(experts: Int, ranks: Int) throws(Failure) -> ExpertPlacement {
        try ExpertPlacement(ranks: ranks, slots: Array(0..<experts), experts: experts)
    }

    /// The rank of slot `s`.
    public func rank(ofSlot s: Int) -> Int { s * ranks / slots.count }

    /// Each rank's share [G] of the load `load` [E] (shares of the layer's assignments per expert).
    public func rankLoads(_ load: [Double]) -> [Double] {
        var replicas = [Int](repeating: 0, count: load.count)
        for e in slots where e < load.count { replicas[e] += 1 }
        var out = [Double](repeating: 0, count: ranks)
        for (s, e) in slots.enumerated() where e < load.count {
            out[rank(ofSlot: s)] += load[e] / Double(replicas[e])
        }
        return out
    }

    /// The what-if of `redundant` extra slots, as EPLB builds it from a layer's load: each extra slot
    /// replicates the expert with the largest load per replica (ties: the lower index), then the
    /// E + R slots are packed onto the ranks, the heaviest first, each onto the least loaded rank with
    /// a slot free (ties: the lower rank), `(E + R) / G` slots a rank.
    public static func replicated(load: [Double], ranks: Int, redundant: Int) throws(Failure) -> ExpertPlacement {
        let experts = load.count
        guard redundant <= maxSlots - experts else { throw .tooManySlots(slots: redundant > Int.max - experts ? Int.max : experts + redundant) }
        let total = experts + max(redundant, 0)
        guard ranks >= 1, ranks <= total else { throw .ranks(ranks: ranks, slots: total) }
        guard total % ranks == 0 else { throw .slotsNotDivisible(slots: total, ranks: ranks) }
        var replicas = [Int](repeating: 1, count: experts)
        for _ in 0..<max(redundant, 0) {
            var best = 0
            for e in 1..<max(experts, 1) where load[e] / Double(replicas[e]) > load[best] / Double(replicas[best]) { best = e }
            replicas[best] += 1
        }
        // Every replica with its share, heaviest first (stable: lower expert first).
        var items: [(expert: Int, share: Double)] = []
        for e in 0..<experts { for _ in 0..<replicas[e] { items.append((e, load[e] / Double(replicas[e]))) } }
        items = items.enumerated().sorted { a, b in
            a.element.share != b.element.share ? a.element.share > b.element.share : a.offset < b.offset
        }.map(\.element)
        let perRank = total / ranks
        var rankLoad = [Double](repeating: 0, count: ranks)
        var held = [[Int]](repeating: [], count: ranks)
        for item in items {
            var target = -1
            for r in 0..<ranks where held[r].count < perRank && (target < 0 || rankLoad[r] < rankLoad[target]) { target = r }
            held[target].append(item.expert)
            rankLoad[target] += item.share
        }
        return try ExpertPlacement(ranks: ranks, slots: held.flatMap { $0 }, experts: experts)
    }
}

/// One layer's load per rank under a placement: the shares, their MaxVio and the busiest rank.
public struct RankLoad: Sendable, Equatable {
    /// Share of the layer's assignments each rank processes [G] (sums to 1).
    public let load: [Double]
    /// The busiest rank's load over the mean rank load, minus 1.
    public let maxVio: Double
    /// The busiest rank (the lowest of ties).
    public let hottest: Int

    public init(load: [Double]) {
        self.load = load
        maxVio = LayerMetrics.maxViolation(load)
        var best = 0
        for r in load.indices where load[r] > load[best] { best = r }
        hottest = best
    }

    public init(placement: ExpertPlacement, expertLoad: [Double]) {
        self.init(load: placement.rankLoads(expertLoad))
    }

    /// The rank loads of `load` [E] with the experts placed contiguously over `ranks`; nil when there
    /// are fewer experts than ranks (or no ranks).
    public static func contiguous(_ load: [Double], ranks: Int) -> RankLoad? {
        (try? ExpertPlacement.contiguous(experts: load.count, ranks: ranks)).map { RankLoad(placement: $0, expertLoad: load) }
    }
}
