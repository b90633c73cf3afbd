import IdaFormats
import IdaAnalysis
import IdaNumerics
import IdaRouting

/// `idamoe diff --json`: one object, schema version 1 (docs/format.md, "idamoe diff --json").
extension DiffCommand {
    static func json(_ c: CheckpointComparison, ranks: Int? = nil) -> JSONValue {
        json(c, views: DiffRankViews.contiguous(c, ranks: ranks))
    }

    /// The document, with each side's expert-parallel view when `views` are given.
    static func json(_ c: CheckpointComparison, views: DiffRankViews?) -> JSONValue {
        .object([
            "v": number(1),
            "a": json(c.a),
            "b": json(c.b),
            "basis": .string(c.basis.rawValue),
            "probe": .object(["shared": .bool(c.sharedProbe), "tokens": number(c.tokens),
                              "domains": .array(c.domainNames.map(JSONValue.string))]),
            "same_run": .bool(c.sameRun),
            "tau": .number(c.tau),
            "layers": .array(c.layers.map { json($0, views: views) }),
            "across_layers": acrossObject(c, views: views),
            "ep": views.map { v in
                .object(["ranks": v.byLayer.values.first.map { .int($0.a.placed.load.count) } ?? v.request.ranks.map(JSONValue.int) ?? .null,
                         "placement": .string(v.request.placement?.path ?? "contiguous"),
                         "redundant": v.request.redundant.map(JSONValue.int) ?? .null])
            } ?? .null,
        ])
    }

    static func json(_ s: CheckpointComparison.Side) -> JSONValue {
        let ida = s.router == .ida
        return .object([
            "capture": s.capture.map { c in
                .object(["architecture": c.architecture.map(JSONValue.string) ?? .null, "unverified": .bool(c.unverified == true)])
            } ?? .null,
            "imported": s.imported.map { i in
                .object(["producer": i.producer.map(JSONValue.string) ?? .null, "records": i.records.map(JSONValue.string) ?? .null])
            } ?? .null,
            "spec": .string(s.reference.spec),
            "path": .string(s.reference.path),
            "run_dir": s.reference.runDirectory.map(JSONValue.string) ?? .null,
            "step": s.step.map(number) ?? .null,
            "router": .string(s.router.rawValue),
            "experts": number(s.experts),
            "layer_experts": .array(s.layerExperts.map(number)),
            "components_per_expert": ida ? number(s.componentsPerExpert) : .null,
            "latent_dim": ida ? number(s.latentDim) : .null,
            "top_k": number(s.topK),
            "moe_layers": .array(s.moeLayers.map(number)),
            "probe": .string(s.probe),
        ])
    }

    static func json(_ l: LayerComparison, views: DiffRankViews? = nil) -> JSONValue {
        func agreement(_ x: LayerComparison.Agreement) -> JSONValue {
            .object(["top1": .number(x.top1), "topk_jaccard": .number(x.topKJaccard)])
        }
        let rows = (0..<l.expertsA).map { e in
            JSONValue.array(l.coAssignment[(e * l.expertsB)..<((e + 1) * l.expertsB)].map(number))
        }
        let d = l.entropyChange
        return .object([
            "layer": number(l.layer),
            "experts": .object(["a": number(l.expertsA), "b": number(l.expertsB)]),
            "tokens": number(l.tokens),
            "comparable_indices": .bool(l.comparableIndices),
            "agreement": .object(["raw": agreement(l.raw), "matched": agreement(l.matched)]),
            "matching": .object([
                "a_to_b": .array(l.matching.map { $0.map(number) ?? .null }),
                "identity": .bool(l.matchingIsIdentity),
                "kept": .number(l.coAssignmentKept),
                "kept_per_expert": optionalNumbers(l.keptPerExpert),
                "co_assignment": .array(rows),
            ]),
            "load": .object([
                "a": numbers(l.loadA), "b": numbers(l.loadB),
                "top1_a": numbers(l.top1SharesA), "top1_b": numbers(l.top1SharesB),
                "gate_a": l.loadGateA.isEmpty ? .null : numbers(l.loadGateA), "gate_b": l.loadGateB.isEmpty ? .null : numbers(l.loadGateB),
                "delta": l.loadDelta.map(numbers) ?? .null,
                "delta_matched": optionalNumbers(l.matchedLoadDelta),
            ]),
            "cv": .object(["a": .number(l.cvA), "b": .number(l.cvB)]),
            "max_vio": .object(["a": .number(LayerMetrics.maxViolation(l.loadA)), "b": .number(LayerMetrics.maxViolation(l.loadB)),
                                "top1_a": .number(LayerMetrics.maxViolation(l.top1SharesA)),
                                "top1_b": .number(LayerMetrics.maxViolation(l.top1SharesB)),
                                "gate_a": maxVio(l.loadGateA).map(JSONValue.number) ?? .null,
                                "gate_b": maxVio(l.loadGateB).map(JSONValue.number) ?? .null]),
            "load_quantiles": .object(["a": RouteCommand.quantileObject(l.loadA), "b": RouteCommand.quantileObject(l.loadB)]),
            "ep": rankObject(l, views: views),
            "entropy": .object([
                "mean_a": .number(l.meanEntropyA), "mean_b": .number(l.meanEntropyB),
                "change": .object([
                    "mean": .number(d.mean), "p5": .number(d.p5), "p25": .number(d.p25), "p50": .number(d.p50),
                    "p75": .number(d.p75), "p95": .number(d.p95),
                    "histogram": .object(["limit": .number(d.limit), "counts": .array(d.counts.map(number))]),
                ]),
            ]),
            "components": l.components.map(json) ?? .null,
            "domains": .array(l.domains.map { s in
                .object(["id": number(s.domain), "name": .string(s.name), "tokens": number(s.tokens),
                         "a": numbers(s.sharesA), "b": numbers(s.sharesB),
                         "shift_raw": .number(s.shiftRaw), "shift_matched": .number(s.shiftMatched)])
            }),
        ])
    }

    static func json(_ c: ComponentChanges) -> JSONValue {
        .object([
            "components_per_expert_a": number(c.componentsPerExpertA),
            "components_per_expert_b": number(c.componentsPerExpertB),
            "priors_a": numbers(c.priorsA), "priors_b": numbers(c.priorsB),
            "usage_a": numbers(c.usageA), "usage_b": numbers(c.usageB),
            "dead_a": .array(c.deadA.map(number)), "dead_b": .array(c.deadB.map(number)),
            "prior_change": c.priorChange.map(numbers) ?? .null,
            "mean_shift": c.meanShift.map(numbers) ?? .null,
            "died": .array(c.died.map(number)), "revived": .array(c.revived.map(number)),
        ])
    }

    static func number(_ value: Int) -> JSONValue { .number(Double(value)) }
    static func numbers(_ values: [Double]) -> JSONValue { .array(values.map(JSONValue.number)) }
    static func optionalNumbers(_ values: [Double?]) -> JSONValue {
        .array(values.map { $0.map(JSONValue.number) ?? .null })
    }
}
