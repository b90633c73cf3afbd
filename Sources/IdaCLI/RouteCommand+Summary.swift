import IdaFormats
import IdaNumerics
import IdaRouting

/// `idamoe route`'s per-layer figures beyond the CVs: MaxVio, quantiles of the per-expert load, and
/// the same figures across layers (docs/format.md, "idamoe route --json").
extension RouteCommand {
    /// "p50 1.0x p90 1.6x p99 2.2x max 2.4x fair": quantiles of the top-k load over the fair share 1/E.
    static func quantileText(_ load: [Double]) -> String {
        let fair = 1 / Double(max(load.count, 1))
        let q = LayerMetrics.quantiles(load, LayerMetrics.reportedQuantiles).map { $0 / fair }
        return String(format: "p50 %.2fx p90 %.2fx p99 %.2fx max %.2fx fair", q[0], q[1], q[2], q[3])
    }

    /// "p50 0.213 p90 0.301 p99 0.322 max 0.325" of per-layer figures.
    static func acrossText(_ values: [Double]) -> String {
        let q = LayerMetrics.quantiles(values, LayerMetrics.reportedQuantiles)
        return String(format: "p50 %.3f p90 %.3f p99 %.3f max %.3f", q[0], q[1], q[2], q[3])
    }

    /// {"p50", "p90", "p99", "max"} of `values`.
    static func quantileObject(_ values: [Double]) -> JSONValue {
        let q = LayerMetrics.quantiles(values, LayerMetrics.reportedQuantiles)
        return .object(["p50": .number(q[0]), "p90": .number(q[1]), "p99": .number(q[2]), "max": .number(q[3])])
    }

    /// The `--json` document: one object per layer and the quantiles across layers.
    func jsonDocument(_ ck: RouterCheckpoint, _ pr: Probe, _ layers: [Int], _ metrics: [Int: LayerMetrics],
                      parallel: ExpertParallelRequest? = nil, views: [RankView] = []) -> JSONValue {
        func numbers(_ xs: [Double]) -> JSONValue { .array(xs.map(JSONValue.number)) }
        let rows = layers.compactMap { i -> (Int, LayerMetrics)? in metrics[i].map { (i, $0) } }
        let byLayer = Dictionary(uniqueKeysWithValues: views.map { ($0.layer, $0) })
        let perLayer: [JSONValue] = rows.map { i, m in
            var members: [String: JSONValue] = [
                "layer": .int(i),
                "experts": .int(m.load.count),
                "tokens": .int(m.tokens),
                "cv": .object(["top1": .number(m.cvTop1), "topk": .number(m.cv), "gate": .number(m.cvGate)]),
                "max_vio": .object(["top1": .number(m.maxVioTop1), "topk": .number(m.maxVio), "gate": .number(m.maxVioGate)]),
                "load": .object(["top1": numbers(m.loadTop1), "topk": numbers(m.load), "gate": numbers(m.loadGate)]),
                "load_quantiles": Self.quantileObject(m.load),
                "entropy_bits": .number(m.meanEntropyBits),
                "nll": m.nll.map(JSONValue.number) ?? .null,
                "dead": m.deadComponents.map(JSONValue.int) ?? .null,
                "components": m.componentUsage.map { .int($0.count) } ?? .null,
            ]
            if let v = byLayer[i] { members["ep"] = Self.rankObject(v, redundant: parallel?.redundant) }
            return .object(members)
        }
        let ms = rows.map(\.1)
        var across: [String: JSONValue] = [
            "cv_top1": Self.quantileObject(ms.map(\.cvTop1)),
            "cv_topk": Self.quantileObject(ms.map(\.cv)),
            "cv_gate": Self.quantileObject(ms.map(\.cvGate)),
            "max_vio_top1": Self.quantileObject(ms.map(\.maxVioTop1)),
            "max_vio_topk": Self.quantileObject(ms.map(\.maxVio)),
            "max_vio_gate": Self.quantileObject(ms.map(\.maxVioGate)),
        ]
        var document: [String: JSONValue] = [
            "v": .int(1),
            "checkpoint": .string(checkpoint),
            "probe": .string(probe),
            "router": .string(ck.info.router.rawValue),
            "step": ck.info.step.map(JSONValue.int) ?? .null,
            "tokens": .int(pr.count),
            "top_k": .int(topK ?? ck.info.config.topK),
            "layers": .array(perLayer),
        ]
        if let parallel, let ranks = views.first?.placed.load.count {
            across["ep_max_vio"] = Self.quantileObject(views.map(\.placed.maxVio))
            if parallel.redundant != nil {
                across["ep_max_vio_replicated"] = Self.quantileObject(views.compactMap { $0.replicated?.maxVio })
            }
            document["ep"] = .object(["ranks": .int(ranks), "placement": .string(parallel.placement?.path ?? "contiguous"),
                                      "redundant": parallel.redundant.map(JSONValue.int) ?? .null])
        }
        document["across_layers"] = .object(across)
        return .object(document)
    }
}
