import IdaAnalysis
import IdaFormats
import IdaNumerics
import IdaRouting

/// Each side's expert-parallel view of every compared layer (`--ep G`, `--placement FILE`,
/// `--redundant R`), computed before anything is printed so a placement that does not fit is a
/// one-line error.
struct DiffRankViews {
    let request: ExpertParallelRequest
    let byLayer: [Int: (a: RankView, b: RankView)]

    init(_ c: CheckpointComparison, request: ExpertParallelRequest) throws {
        self.request = request
        var views: [Int: (a: RankView, b: RankView)] = [:]
        for l in c.layers {
            views[l.layer] = (try request.view(layer: l.layer, load: l.loadA), try request.view(layer: l.layer, load: l.loadB))
        }
        byLayer = views
    }

    /// Contiguous placement over `ranks` where every layer has at least that many experts (the
    /// default view of callers that give only G); nil otherwise.
    static func contiguous(_ c: CheckpointComparison, ranks: Int?) -> DiffRankViews? {
        ranks.flatMap { try? DiffRankViews(c, request: ExpertParallelRequest(ranks: $0, placement: nil, redundant: nil)) }
    }
}

/// The balance figures of `idamoe diff`: MaxVio of the top-1, top-k and gate-weighted loads, the
/// per-expert load quantiles, the expert-parallel rows, and the quantiles across layers (route's
/// definitions: `RouteCommand.quantileText`, `acrossText`, `quantileObject`).
extension DiffCommand {
    /// MaxVio of a load, nil when the side holds none (a gate-weighted load an older summary lacks).
    static func maxVio(_ load: [Double]) -> Double? { load.isEmpty ? nil : LayerMetrics.maxViolation(load) }

    /// The MaxVio rows (top-k, top-1, gate-weighted), the load quantiles of each side and, with
    /// expert parallelism, the rank rows.
    static func balanceRows(_ l: LayerComparison, views: DiffRankViews?) -> [String] {
        func columns(_ values: [String]) -> String { values.map { $0.leftPadded(to: 9) }.joined() }
        func row(_ label: String, _ a: Double?, _ b: Double?, _ note: String) -> String {
            let delta = a.flatMap { a in b.map { signed($0 - a, digits: 3) } } ?? "-"
            return "  \(label)".padded(12) + columns([a.map { fixed3($0) } ?? "-", b.map { fixed3($0) } ?? "-", delta]) + note
        }
        var out = [
            row("MaxVio", maxVio(l.loadA), maxVio(l.loadB), "   largest load over the mean, minus 1"),
            row("MV top-1", maxVio(l.top1SharesA), maxVio(l.top1SharesB), "   of first choices"),
            row("MV gate", maxVio(l.loadGateA), maxVio(l.loadGateB), "   of the gate-weighted load"),
            "  load quantiles A: " + RouteCommand.quantileText(l.loadA),
            "  load quantiles B: " + RouteCommand.quantileText(l.loadB),
        ]
        if let v = views?.byLayer[l.layer] {
            let (a, b) = (v.a.placed, v.b.placed)
            out.append(row("rank MV", a.maxVio, b.maxVio, "   \(a.load.count) ranks, \(views?.request.source ?? "contiguous"); "
                           + "hottest A r\(a.hottest) \(pct(a.load[a.hottest])), B r\(b.hottest) \(pct(b.load[b.hottest]))"))
            if let r = views?.request.redundant, let ra = v.a.replicated, let rb = v.b.replicated {
                out.append(row("after", ra.maxVio, rb.maxVio, "   rank MaxVio after \(r) redundant slots replicate the hottest experts"))
            }
        }
        return out
    }

    /// "across 2 layers (p50 p90 p99 max):" and a row per figure for each side, with more than one layer.
    static func acrossRows(_ c: CheckpointComparison, views: DiffRankViews?) -> [String] {
        guard c.layers.count > 1 else { return [] }
        // Route's short names: CV and MaxVio of the top-1 (1), top-k (k) and gate-weighted (g) loads.
        let names = ["cv_topk": "CVk", "max_vio_top1": "MV1", "max_vio_topk": "MVk", "max_vio_gate": "MVg",
                     "ep_max_vio": "rank MV", "ep_max_vio_replicated": "after"]
        var out = ["", "across \(c.layers.count) layers (quantiles of the per-layer figures)"]
        for (name, values) in acrossFigures(c, views: views) {
            let a = values.a.isEmpty ? "-" : RouteCommand.acrossText(values.a)
            let b = values.b.isEmpty ? "-" : RouteCommand.acrossText(values.b)
            out.append("  " + (names[name] ?? name).padded(10) + "A " + a.padded(41) + "B " + b)
        }
        return out
    }

    /// The per-layer figures the across-layer quantiles are of, by their JSON names, for A and B
    /// (a side's list is empty when a layer lacks the figure).
    static func acrossFigures(_ c: CheckpointComparison, views: DiffRankViews?) -> [(String, (a: [Double], b: [Double]))] {
        func all(_ f: (LayerComparison) -> Double?) -> [Double] {
            let xs = c.layers.compactMap(f)
            return xs.count == c.layers.count ? xs : []
        }
        var out: [(String, (a: [Double], b: [Double]))] = [
            ("cv_topk", (all { $0.cvA }, all { $0.cvB })),
            ("max_vio_top1", (all { maxVio($0.top1SharesA) }, all { maxVio($0.top1SharesB) })),
            ("max_vio_topk", (all { maxVio($0.loadA) }, all { maxVio($0.loadB) })),
            ("max_vio_gate", (all { maxVio($0.loadGateA) }, all { maxVio($0.loadGateB) })),
        ]
        if let views {
            out.append(("ep_max_vio", (all { views.byLayer[$0.layer]?.a.placed.maxVio }, all { views.byLayer[$0.layer]?.b.placed.maxVio })))
            if views.request.redundant != nil {
                out.append(("ep_max_vio_replicated", (all { views.byLayer[$0.layer]?.a.replicated?.maxVio },
                                                      all { views.byLayer[$0.layer]?.b.replicated?.maxVio })))
            }
        }
        return out
    }

    /// `across_layers` in `--json`: {"a": {figure: quantiles}, "b": {...}} (a figure some layer lacks is null).
    static func acrossObject(_ c: CheckpointComparison, views: DiffRankViews?) -> JSONValue {
        var a: [String: JSONValue] = [:], b: [String: JSONValue] = [:]
        for (name, values) in acrossFigures(c, views: views) {
            a[name] = values.a.isEmpty ? .null : RouteCommand.quantileObject(values.a)
            b[name] = values.b.isEmpty ? .null : RouteCommand.quantileObject(values.b)
        }
        return .object(["a": .object(a), "b": .object(b)])
    }

    /// A layer's `ep` in `--json`: each side's rank loads (route's object) under the placement.
    static func rankObject(_ l: LayerComparison, views: DiffRankViews?) -> JSONValue {
        guard let views, let v = views.byLayer[l.layer] else { return .null }
        return .object(["ranks": .int(v.a.placed.load.count),
                        "a": RouteCommand.rankObject(v.a, redundant: views.request.redundant),
                        "b": RouteCommand.rankObject(v.b, redundant: views.request.redundant)])
    }

    static func fixed3(_ value: Double) -> String { String(format: "%.3f", value) }
}
