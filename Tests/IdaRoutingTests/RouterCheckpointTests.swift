import Foundation
import IdaTestSupport
import Testing
import IdaFormats
import IdaNumerics
import IdaRouting

@Suite("Checkpoint contract")
struct RouterCheckpointTests {
    @Test("IDA routers round-trip through a file with the contract's names and metadata")
    func roundTrip() throws {
        let dir = temporaryDirectory()
        let ck = try makeIDACheckpoint()
        try ck.write(to: dir + "/ck.safetensors")
        let file = try SafetensorsFile(path: dir + "/ck.safetensors")
        #expect(file.metadata["idamoe.format"] == "1")
        #expect(file.metadata["idamoe.router"] == "ida")
        #expect(file.metadata["idamoe.moe_layers"] == "1,3")
        #expect(file.metadata["idamoe.step"] == "42")
        #expect(file.info("layers.3.router.encoder.1.weight")?.shape == [3, 5])
        #expect(file.info("layers.1.router.decoder.1.bias")?.shape == [6])
        #expect(file.info("layers.1.router.gmm.log_vars")?.shape == [6, 3])
        let back = try RouterCheckpoint(path: dir + "/ck.safetensors")
        #expect(back.info == ck.info)
        #expect(back.routers == ck.routers)
    }

    @Test("softmax routers round-trip, bias optional")
    func softmaxRoundTrip() throws {
        var rng = SeededGenerator(seed: 3)
        let r = try SoftmaxRouter(experts: 4, hiddenDim: 6, topK: 1, bias: true, rng: &rng)
        let ck = RouterCheckpoint(info: CheckpointInfo(router: .softmax, moeLayers: [0], config: RouterConfig(experts: 4, topK: 1), step: nil),
                                  routers: [0: .softmax(r)])
        let dir = temporaryDirectory()
        try ck.write(to: dir + "/s.safetensors")
        let back = try RouterCheckpoint(path: dir + "/s.safetensors")
        #expect(back.routers[0] == .softmax(r))
        #expect(back.info.router == .softmax)
    }

    /// Writes the IDA checkpoint with one change and returns the load error's text.
    func loadError(metadata: [String: String?] = [:], replace: (String, [Int], [Float])? = nil,
                   drop: String? = nil) throws -> String {
        let ck = try makeIDACheckpoint()
        var writer = SafetensorsWriter()
        var meta = ck.info.metadata
        for (k, v) in metadata { meta[k] = v }
        writer.metadata = meta
        for t in ck.tensors() where t.name != drop {
            if let (name, shape, values) = replace, name == t.name {
                try writer.add(name, shape: shape, floats: values)
            } else {
                try writer.add(t.name, shape: t.shape, floats: t.values)
            }
        }
        let path = temporaryDirectory() + "/bad.safetensors"
        try writer.write(to: path)
        do {
            _ = try RouterCheckpoint(path: path)
        } catch {
            let text = String(describing: error)
            #expect(!text.contains("\n"))
            #expect(text.hasPrefix(path))
            return text
        }
        Issue.record("loading a broken checkpoint succeeded")
        return ""
    }

    @Test("broken checkpoints are refused with an error naming the tensor or key")
    func refusals() throws {
        #expect(try loadError(drop: "layers.3.router.gmm.means").contains("missing tensor layers.3.router.gmm.means"))
        #expect(try loadError(replace: ("layers.1.router.gmm.logits", [5], [0, 0, 0, 0, 0]))
            .contains("layers.1.router.gmm.logits has shape [5], expected [6]"))
        var nan = [Float](repeating: 0, count: 18)
        nan[4] = .nan
        #expect(try loadError(replace: ("layers.1.router.gmm.log_vars", [6, 3], nan))
            .contains("layers.1.router.gmm.log_vars holds a non-finite value at element 4"))
        let encoderError = try loadError(replace: ("layers.3.router.encoder.1.weight", [4, 5], [Float](repeating: 0, count: 20)))
        #expect(encoderError.contains("tensor layers.3.router.encoder.1.bias has shape [3], expected [4]"), "\(encoderError)")
        #expect(try loadError(metadata: ["idamoe.format": "2"]).contains("idamoe.format"))
        #expect(try loadError(metadata: ["idamoe.router": "hash"]).contains("unknown router 'hash'"))
        #expect(try loadError(metadata: ["idamoe.top_k": "4"]).contains("idamoe.top_k"))
        #expect(try loadError(metadata: ["idamoe.experts": nil]).contains("idamoe.experts: missing"))
        #expect(try loadError(metadata: ["idamoe.moe_layers": "1,x"]).contains("idamoe.moe_layers"))
        #expect(try loadError(metadata: ["idamoe.activation": "swish"]).contains("unknown value 'swish'"))
    }

    @Test("expert counts may differ by layer (idamoe.layer_experts): round-trip, route, refusals")
    func layerExperts() throws {
        var rng = SeededGenerator(seed: 5)
        let base = RouterConfig(experts: 3, componentsPerExpert: 2, latentDim: 3, topK: 2, inputNorm: .rms)
        var routers: [Int: LayerRouter] = [:]
        for (i, e) in [(1, 3), (3, 7)] {
            var c = base
            c.experts = e
            routers[i] = .ida(try IDARouter(config: c, hiddenDim: 6, hidden: [5], rng: &rng))
        }
        let info = CheckpointInfo(router: .ida, moeLayers: [1, 3], config: base, step: nil, layerExperts: [1: 3, 3: 7])
        #expect(info.layerExperts == [3: 7] && info.config(layer: 3).experts == 7 && info.config(layer: 1).experts == 3)
        let path = temporaryDirectory() + "/varied.safetensors"
        try RouterCheckpoint(info: info, routers: routers).write(to: path)
        #expect(try SafetensorsFile(path: path).metadata["idamoe.layer_experts"] == "3,7")
        let back = try RouterCheckpoint(path: path)
        #expect(back.info == info && back.routers == routers)
        #expect(back.routers[3]?.experts == 7 && back.routers[1]?.experts == 3)
        let probePath = temporaryDirectory() + "/varied-probe.safetensors"
        try writeProbe(to: probePath, count: 40)
        let probe = try Probe(path: probePath)
        let metrics = try ProbeRouting(checkpoint: back, probe: probe).run()
        #expect(metrics[1]?.load.count == 3 && metrics[3]?.load.count == 7)
        // Files without the key read as before; a wrong list is a one-line error naming the key.
        #expect(try makeIDACheckpoint().info.layerExperts.isEmpty)
        #expect(try loadError(metadata: ["idamoe.layer_experts": "3"]).contains("one expert count per block of idamoe.moe_layers (2)"))
        #expect(try loadError(metadata: ["idamoe.layer_experts": "3,99999"]).contains("idamoe.layer_experts: 99999 is outside 1...\(SizeLimits.experts)"))
        #expect(try loadError(metadata: ["idamoe.layer_experts": "3,1"]).contains("idamoe.top_k: 2 is above block 3's 1 experts"))
        #expect(try loadError(metadata: ["idamoe.layer_experts": "3,4"]).contains("layers.3.router.gmm.logits has shape [6], expected [8]"))
    }

    @Test("hostile sizes: every count is bounded and multiplied with overflow checks before anything is allocated")
    func hostileSizes() throws {
        let huge = String(Int.max / 2)
        let cases: [([String: String?], String)] = [
            (["idamoe.experts": huge], "idamoe.experts: \(huge) is outside 1...\(SizeLimits.experts)"),
            (["idamoe.experts": "0"], "idamoe.experts: 0 is outside 1...\(SizeLimits.experts)"),
            (["idamoe.experts": "-3"], "idamoe.experts: -3 is outside"),
            (["idamoe.components_per_expert": huge], "idamoe.components_per_expert: \(huge) is outside 1...\(SizeLimits.componentsPerExpert)"),
            (["idamoe.experts": "1024", "idamoe.components_per_expert": "256"], "is above \(SizeLimits.components) components"),
            (["idamoe.latent_dim": "1000000"], "idamoe.latent_dim: 1000000 is outside 1...\(SizeLimits.latentDim)"),
            (["idamoe.moe_layers": "1,99999"], "block index 99999 is above \(SizeLimits.blockIndex)"),
            (["idamoe.top_k": huge], "idamoe.top_k"),
            (["idamoe.experts": "99999999999999999999999"], "is not an integer"),
        ]
        for (metadata, needle) in cases {
            let text = try loadError(metadata: metadata)
            #expect(text.contains(needle), "\(metadata): \(text)")
        }
    }

    @Test("hundreds of experts: a 512-expert IDA router and a 300-expert softmax router round-trip and route")
    func manyExperts() throws {
        var rng = SeededGenerator(seed: 9)
        let config = RouterConfig(experts: 512, componentsPerExpert: 2, latentDim: 3, topK: 8)
        let ida = try IDARouter(config: config, hiddenDim: 6, hidden: [5], rng: &rng)
        let softmax = try SoftmaxRouter(experts: 300, hiddenDim: 6, topK: 4, rng: &rng)
        for (name, router, kind, experts, k) in [("ida", LayerRouter.ida(ida), RouterKind.ida, 512, 8),
                                                  ("softmax", LayerRouter.softmax(softmax), RouterKind.softmax, 300, 4)] {
            var c = config
            c.experts = experts
            c.topK = k
            let ck = RouterCheckpoint(info: CheckpointInfo(router: kind, moeLayers: [2], config: c, step: 1), routers: [2: router])
            let path = temporaryDirectory() + "/\(name).safetensors"
            try ck.write(to: path)
            let loaded = try RouterCheckpoint(path: path)
            let r = try #require(loaded.routers[2]).route(randomMatrix(rows: 40, cols: 6, seed: 3))
            #expect(r.selected.count == 40 * k)
            for t in 0..<40 {
                let chosen = Set(r.selected[(t * k)..<((t + 1) * k)])
                #expect(chosen.count == k && chosen.allSatisfy { $0 >= 0 && Int($0) < experts })
            }
        }
    }
}
