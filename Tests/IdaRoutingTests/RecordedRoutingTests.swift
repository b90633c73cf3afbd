import Foundation
import IdaFormats
import IdaNumerics
import IdaTestSupport
import Testing
@testable import IdaRouting

/// Recorded decisions (docs/format.md, "Recorded routings"): a checkpoint with `idamoe.router`
/// `recorded` and no tensors, whose probe holds the experts each token went to.
@Suite("Recorded routings")
struct RecordedRoutingTests {
    /// A recorded checkpoint (E 4, k 2, blocks 1 and 3) and a probe of `n` tokens with decisions, gate
    /// weights on block 1 and logits on block 3.
    static func write(in dir: String, n: Int = 300, badExpert: Bool = false) throws -> (checkpoint: String, probe: String) {
        let info = CheckpointInfo(router: .recorded, moeLayers: [1, 3],
                                  config: RouterConfig(experts: 4, componentsPerExpert: 1, latentDim: 1, topK: 2), step: 9)
        let checkpoint = dir + "/step-00000009.safetensors"
        try RouterCheckpoint(info: info, routers: [:]).write(to: checkpoint)
        var w = SafetensorsWriter()
        w.metadata = ["idamoe.vocab": "bytes", "idamoe.domain_names": "[\"a\", \"b\"]"]
        try w.add("tokens", shape: [n], int32s: (0..<n).map { Int32($0 % 256) })
        try w.add("domains", shape: [n], int32s: (0..<n).map { Int32($0 % 2) })
        // Block 1: token t goes to experts t % 4 then (t + 1) % 4, weights 0.75 / 0.25.
        var experts1: [Int32] = []
        for t in 0..<n { experts1 += [Int32(t % 4), Int32((t + 1) % 4)] }
        if badExpert { experts1[7] = 4 }
        try w.add("layers.1.experts", shape: [n, 2], int32s: experts1)
        try w.add("layers.1.weights", shape: [n, 2], floats: (0..<n).flatMap { _ in [Float(0.75), 0.25] })
        // Block 3: everyone to experts 0 and 2; logits favour expert 0.
        try w.add("layers.3.experts", shape: [n, 2], int32s: (0..<n).flatMap { _ in [Int32(0), 2] })
        try w.add("layers.3.logits", shape: [n, 4], floats: (0..<n).flatMap { _ in [Float(2), 0, 1, 0] })
        let probe = dir + "/step-00000009.probe.safetensors"
        try w.write(to: probe)
        return (checkpoint, probe)
    }

    @Test("loads, CV and entropy come from the records; any block size and thread count give the same")
    func metrics() throws {
        let dir = temporaryDirectory()
        let (ck, pr) = try Self.write(in: dir)
        let checkpoint = try RouterCheckpoint(path: ck)
        #expect(checkpoint.info.router == .recorded && checkpoint.info.step == 9 && checkpoint.routers[1]?.kind == .recorded)
        let routing = try ProbeRouting(checkpoint: checkpoint, probe: Probe(path: pr))
        let metrics = try routing.run()
        let m1 = try #require(metrics[1]), m3 = try #require(metrics[3])
        // Block 1: each expert takes 2 of every 8 assignments of 4 tokens: the load is even.
        #expect(m1.load.map { ($0 * 1000).rounded() / 1000 } == [0.25, 0.25, 0.25, 0.25] && m1.cv < 1e-9)
        #expect(m3.load == [0.5, 0, 0.5, 0])
        // Block 1 spreads q over its two choices by weight: H(0.75, 0.25) bits; block 3 from the logits' softmax.
        let h1 = -(0.75 * log2(0.75) + 0.25 * log2(0.25))
        #expect(abs(m1.meanEntropyBits - h1) < 1e-12)
        let z = exp(2.0) + 2 + exp(1.0)
        let q = [exp(2.0) / z, 1 / z, exp(1.0) / z, 1 / z]
        #expect(abs(m3.meanEntropyBits - q.reduce(0) { $0 - $1 * log2($1) }) < 1e-12)
        #expect(m1.nll == nil)
        let again = try ProbeRouting(checkpoint: checkpoint, probe: Probe(path: pr), blockSize: 256).run(workers: 2, transform: { _, _ in () }, consume: { _ in })
        #expect(again[1]?.load == m1.load && again[3]?.meanEntropyBits == m3.meanEntropyBits)
    }

    @Test("a record outside the experts, a k that is not the checkpoint's, a top-k override: one-line errors")
    func refusals() throws {
        let dir = temporaryDirectory()
        let (ck, pr) = try Self.write(in: dir, badExpert: true)
        let routing = try ProbeRouting(checkpoint: RouterCheckpoint(path: ck), probe: Probe(path: pr))
        #expect(throws: RoutingError.self) { try routing.run() }
        do {
            try routing.run()
        } catch {
            #expect(String(describing: error).contains("token 3 went to expert 4"), "\(error)")
        }
        #expect(throws: RoutingError.self) { try ProbeRouting(checkpoint: RouterCheckpoint(path: ck), probe: Probe(path: pr), topK: 1) }
        // Recorded checkpoints take neither the IDA keys nor the gate options.
        var meta = try SafetensorsFile(path: ck).metadata
        meta["idamoe.gate_scale"] = "2"
        var w = SafetensorsWriter()
        w.metadata = meta
        try w.write(to: dir + "/scaled.safetensors")
        #expect(throws: RoutingError.self) { try RouterCheckpoint(path: dir + "/scaled.safetensors") }
        // A recorded router is no training router.
        var config = ModelConfig()
        config.router = .recorded
        #expect(throws: SettingError.self) { try config.validate() }
    }
}
