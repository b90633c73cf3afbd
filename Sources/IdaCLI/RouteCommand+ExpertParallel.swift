import IdaFormats
import IdaNumerics
import IdaRouting

/// The expert-parallel view of one layer: its load per rank under the placement, and with
/// `--redundant R` the what-if of R replicated slots.
struct RankView {
    let layer: Int
    let placed: RankLoad
    let replicated: RankLoad?
    /// Slots per expert in the what-if [E].
    let replicas: [Int]?
}

/// `--ep G`, `--placement FILE`, `--redundant R` (docs/format.md, "The expert-parallel view").
struct ExpertParallelRequest {
    let ranks: Int?
    let placement: PlacementFile?
    let redundant: Int?

    var source: String { placement.map { "placement \($0.path)" } ?? "contiguous" }

    /// Refuses placements and what-ifs the layers cannot take before any token is routed.
    func check(_ ck: RouterCheckpoint, _ layers: [Int]) throws {
        _ = try layers.map { i in
            let experts = ck.info.config(layer: i).experts
            return try view(layer: i, load: [Double](repeating: 1 / Double(max(experts, 1)), count: experts))
        }
    }

    /// Each shown layer's view, from its top-k load.
    func views(_ ck: RouterCheckpoint, _ layers: [Int], _ metrics: [Int: LayerMetrics]) throws -> [RankView] {
        try layers.compactMap { i in try metrics[i].map { try view(layer: i, load: $0.load) } }
    }

    /// The layer's view from its top-k load [E].
    func view(layer i: Int, load: [Double]) throws -> RankView {
        let experts = load.count
        let placement: ExpertPlacement
        do {
            placement = try self.placement?.placement(layer: i, experts: experts, ranks: ranks)
                ?? ExpertPlacement.contiguous(experts: experts, ranks: ranks ?? 1)
        } catch let failure as ExpertPlacement.Failure {
            throw RoutingError.invalidOption("--ep \(ranks ?? 0), layer \(i): \(failure)")
        }
        var replicated: RankLoad?, replicas: [Int]?
        if let r = redundant {
            do {
                let what = try ExpertPlacement.replicated(load: load, ranks: placement.ranks, redundant: r)
                replicated = RankLoad(placement: what, expertLoad: load)
                var count = [Int](repeating: 0, count: experts)
                for e in what.slots { count[e] += 1 }
                replicas = count
            } catch {
                throw RoutingError.invalidOption("--redundant \(r), layer \(i): \(error)")
            }
        }
        return RankView(layer: i, placed: RankLoad(placement: placement, expertLoad: load),
                        replicated: replicated, replicas: replicas)
    }
}

extension RouteCommand {
    var expertParallel: ExpertParallelRequest? {
        get throws {
            guard ep != nil || placement != nil else { return nil }
            return ExpertParallelRequest(ranks: ep, placement: try placement.map { try PlacementFile(path: $0) },
                                         redundant: redundant)
        }
    }

    /// The table's expert-parallel lines: per layer the rank MaxVio, the busiest rank and each rank's load.
    func printRanks(_ request: ExpertParallelRequest, _ views: [RankView]) throws {
        guard let ranks = views.first?.placed.load.count else { return }
        let what = request.redundant.map { "; after: \($0) redundant slots replicating the hottest experts, packed as EPLB does" } ?? ""
        try StandardOutput.line("")
        try StandardOutput.line("expert parallelism: \(ranks) ranks, \(request.placement == nil ? "expert e on rank floor(e G / E)" : request.source)\(what)")
        let listed = full || ranks <= Self.listedExperts
        let fair = String(format: "%.1f", 100 / Double(ranks))
        let load = listed ? "load per rank (% of assignments, fair share \(fair))" : "load per rank (% of assignments): quantiles over ranks, busiest, idlest"
        try StandardOutput.line("layer  MaxVio  hottest" + (request.redundant == nil ? "" : "   after") + "   " + load)
        for v in views {
            let hot = String(format: "r%d %.1f%%", v.placed.hottest, 100 * v.placed.load[v.placed.hottest])
            let after = v.replicated.map { " " + Self.column($0.maxVio, width: 7) } ?? ""
            let shares = listed ? v.placed.load.map { String(format: "%5.1f", 100 * $0) }.joined(separator: " ")
                : Self.rankSummary(v.placed.load)
            try StandardOutput.line(String(format: "%5d ", v.layer) + Self.column(v.placed.maxVio, width: 7) + " "
                                    + hot.leftPadded(to: 8) + after + "   " + shares)
        }
        if views.count > 1 {
            var line = "across \(views.count) layers: rank MaxVio \(Self.acrossText(views.map(\.placed.maxVio)))"
            if request.redundant != nil { line += "; after \(Self.acrossText(views.compactMap { $0.replicated?.maxVio }))" }
            try StandardOutput.line(line)
        }
    }

    /// "p50 0.98x p90 1.20x p99 1.31x max 1.33x fair | busiest r3 4.2, r9 4.0 | idlest r1 2.1, r12 2.3".
    static func rankSummary(_ load: [Double]) -> String {
        let ranked = load.indices.sorted { load[$0] > load[$1] || (load[$0] == load[$1] && $0 < $1) }
        func named(_ ids: ArraySlice<Int>) -> String {
            ids.map { "r\($0) " + String(format: "%.1f", 100 * load[$0]) }.joined(separator: ", ")
        }
        return quantileText(load) + " | busiest " + named(ranked.prefix(2)) + " | idlest " + named(ranked.suffix(2).reversed()[...])
    }

    /// The `ep` object of a layer in `--json`.
    static func rankObject(_ v: RankView, redundant: Int?) -> JSONValue {
        func numbers(_ xs: [Double]) -> JSONValue { .array(xs.map(JSONValue.number)) }
        var members: [String: JSONValue] = [
            "ranks": .int(v.placed.load.count),
            "rank_load": numbers(v.placed.load),
            "max_vio": .number(v.placed.maxVio),
            "hottest": .int(v.placed.hottest),
        ]
        if let after = v.replicated, let r = redundant {
            members["replicated"] = .object([
                "redundant": .int(r),
                "rank_load": numbers(after.load),
                "max_vio": .number(after.maxVio),
                "hottest": .int(after.hottest),
                "replicas": .array((v.replicas ?? []).map(JSONValue.int)),
            ])
        }
        return .object(members)
    }
}
