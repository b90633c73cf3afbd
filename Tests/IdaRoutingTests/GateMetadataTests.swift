import Foundation
import IdaTestSupport
import Testing
import IdaFormats
import IdaNumerics
import IdaRouting

@Suite("Gate metadata: idamoe.gate_normalize, gate_scale, expert_groups, group_top_k, group_score, selection_bias_on")
struct GateMetadataTests {
    /// A sigmoid-bias checkpoint over 8 experts (top-2) in MoE blocks 0 and 2 with these gate options.
    func checkpoint(_ options: GateOptions, kind: RouterKind = .sigmoidBias) throws -> RouterCheckpoint {
        var rng = SeededGenerator(seed: 11)
        var routers: [Int: LayerRouter] = [:]
        for i in [0, 2] {
            var r = try SoftmaxRouter(experts: 8, hiddenDim: 5, topK: 2, scoring: kind.gateScoring ?? .softmax,
                                      selectionBias: kind == .sigmoidBias, rng: &rng)
            if kind == .sigmoidBias { r.selectionBias = (0..<8).map { Float($0) * 0.05 - 0.2 } }
            r.gateOptions = options
            routers[i] = .softmax(r)
        }
        let info = CheckpointInfo(router: kind, moeLayers: [0, 2], config: RouterConfig(experts: 8, topK: 2), step: 3, gate: options)
        return RouterCheckpoint(info: info, routers: routers)
    }

    /// Writes `checkpoint` with its metadata changed by `metadata` (nil removes a key) and loads it.
    func load(_ checkpoint: RouterCheckpoint, metadata: [String: String?]) throws -> RouterCheckpoint {
        try RouterCheckpoint(path: writeCheckpoint(checkpoint, metadata: metadata))
    }

    @Test("absent keys are the defaults, and a default checkpoint writes none of them")
    func defaults() throws {
        for kind in [RouterKind.softmax, .sigmoidBias] {
            let ck = try checkpoint(.standard, kind: kind)
            let keys = ["idamoe.gate_normalize", "idamoe.gate_scale", "idamoe.expert_groups", "idamoe.group_top_k",
                        "idamoe.group_score", "idamoe.selection_bias_on"]
            #expect(keys.allSatisfy { ck.info.metadata[$0] == nil })
            let back = try load(ck, metadata: [:])
            #expect(back.info.gate == .standard)
            #expect(back.routers == ck.routers)
        }
        // Explicit defaults read the same.
        let explicit = try load(checkpoint(.standard), metadata: ["idamoe.gate_normalize": "true", "idamoe.gate_scale": "1",
                                                                  "idamoe.expert_groups": "4"])
        #expect(explicit.info.gate == GateOptions(groups: 4, groupTopK: 4))
    }

    @Test("a checkpoint carrying every option round-trips through a file and routes with them")
    func roundTrip() throws {
        let options = GateOptions(normalize: false, scale: 2.5, groups: 4, groupTopK: 2, groupScore: .max, biasOn: .logits)
        let ck = try checkpoint(options)
        let path = temporaryDirectory() + "/options.safetensors"
        try ck.write(to: path)
        let file = try SafetensorsFile(path: path)
        #expect(file.metadata["idamoe.gate_normalize"] == "false")
        #expect(file.metadata["idamoe.gate_scale"] == "2.5")
        #expect(file.metadata["idamoe.expert_groups"] == "4")
        #expect(file.metadata["idamoe.group_top_k"] == "2")
        #expect(file.metadata["idamoe.group_score"] == "max")
        #expect(file.metadata["idamoe.selection_bias_on"] == "logits")
        let back = try RouterCheckpoint(path: path)
        #expect(back.info.router == .sigmoidBias && back.info.moeLayers == [0, 2] && back.info.gate == options)
        #expect(back.routers == ck.routers)
        let h = randomMatrix(rows: 30, cols: 5, scale: 2, seed: 6)
        let routed = try #require(back.routers[2]).route(h)
        let expected = try #require(ck.routers[2]).route(h)
        #expect(routed.selected == expected.selected && routed.weights == expected.weights)
        // Unrenormalised, scaled gates: 2.5 times the selected sigmoid scores, not summing to 2.5.
        guard case let .softmax(r)? = back.routers[2] else { Issue.record("not a gate router"); return }
        let logits = r.gate.forward(h)
        for t in 0..<30 {
            for j in 0..<2 {
                let x = Int(routed.selected[t * 2 + j])
                let s = 1 / (1 + exp(-Double(logits.data[t * 8 + x])))
                #expect(abs(Double(routed.weights[t * 2 + j]) - 2.5 * s) < 1e-5)
            }
        }
    }

    @Test("bad values are one-line errors naming the key",
          arguments: [
              (["idamoe.gate_normalize": "yes"], "idamoe.gate_normalize: 'yes' is not true or false"),
              (["idamoe.gate_normalize": "False"], "idamoe.gate_normalize"),
              (["idamoe.gate_scale": "fast"], "idamoe.gate_scale: 'fast' is not a number"),
              (["idamoe.gate_scale": "0"], "idamoe.gate_scale: gate scale must be finite and positive"),
              (["idamoe.gate_scale": "-2"], "idamoe.gate_scale"),
              (["idamoe.gate_scale": "inf"], "idamoe.gate_scale"),
              (["idamoe.gate_scale": "nan"], "idamoe.gate_scale"),
              (["idamoe.expert_groups": "3"], "idamoe.expert_groups: 3 expert groups do not divide 8 experts"),
              (["idamoe.expert_groups": "0"], "idamoe.expert_groups"),
              (["idamoe.expert_groups": "two"], "idamoe.expert_groups: 'two' is not an integer"),
              (["idamoe.expert_groups": "4", "idamoe.group_top_k": "5"], "idamoe.group_top_k: group top-k must be 1...4"),
              (["idamoe.expert_groups": "8", "idamoe.group_top_k": "1"], "idamoe.group_top_k: 1 of 8 groups hold 1 experts, fewer than top-k 2"),
              (["idamoe.group_top_k": "2"], "idamoe.group_top_k: group top-k must be 1...1"),
              (["idamoe.group_score": "sum"], "idamoe.group_score: 'sum' is not top2sum or max"),
              (["idamoe.selection_bias_on": "weights"], "idamoe.selection_bias_on: 'weights' is not scores or logits"),
          ] as [([String: String], String)])
    func refusals(metadata: [String: String], needle: String) throws {
        do {
            _ = try load(checkpoint(.standard), metadata: metadata)
            Issue.record("\(metadata) was accepted")
        } catch {
            let text = String(describing: error)
            #expect(text.contains(needle) && !text.contains("\n"), "\(text)")
        }
    }

    @Test("IDA checkpoints refuse the gate keys; --top-k beyond the eligible groups is refused")
    func idaAndTopK() throws {
        let path = try writeCheckpoint(makeIDACheckpoint(), metadata: ["idamoe.gate_scale": "2"])
        do {
            _ = try RouterCheckpoint(path: path)
            Issue.record("an IDA checkpoint with idamoe.gate_scale was accepted")
        } catch {
            #expect(String(describing: error).contains("idamoe.gate_scale: applies to softmax and sigmoid-bias routers only"))
        }
        for key in ["idamoe.group_score", "idamoe.selection_bias_on"] {
            let ida = try writeCheckpoint(makeIDACheckpoint(), metadata: [key: "max"])
            #expect(throws: RoutingError.self) { try RouterCheckpoint(path: ida) }
        }
        let grouped = try #require(checkpoint(GateOptions(groups: 4, groupTopK: 2)).routers[0])
        #expect(try grouped.withTopK(4).experts == 8)
        #expect(throws: RoutingError.self) { try grouped.withTopK(5) }
    }

    @Test("a softmax checkpoint may carry a selection bias (Ernie 4.5): read back, routed by p + b, still a softmax router")
    func softmaxSelectionBias() throws {
        var ck = try checkpoint(.standard, kind: .softmax)
        for i in [0, 2] {
            guard case var .softmax(r)? = ck.routers[i] else { Issue.record("not a gate router"); return }
            r.selectionBias = (0..<8).map { $0 == 5 ? 0.6 : 0 }
            ck.routers[i] = .softmax(r)
        }
        let back = try load(ck, metadata: [:])
        #expect(back.info.router == .softmax && back.routers == ck.routers && back.routers[0]?.kind == .softmax)
        let h = randomMatrix(rows: 40, cols: 5, scale: 1, seed: 3)
        let routed = try #require(back.routers[0]).route(h)
        // A bias of 0.6 on a probability puts expert 5 among every token's two choices.
        #expect((0..<40).allSatisfy { t in routed.selected[(t * 2)..<(t * 2 + 2)].contains(5) })
        #expect(zip(routed.weights.indices, routed.weights).allSatisfy { $1 > 0 && $1 <= 1 })
    }
}
