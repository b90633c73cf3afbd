import Foundation
import Testing
import IdaFormats
import IdaNumerics
import IdaRouting
import IdaTestSupport
@testable import IdaInspector


@Suite("Inspector data layer")
struct DataLayerTests {
    @Test("PCA finds the dominant direction; axes keep their sign and order from one snapshot to the next")
    func projection() {
        // Points on the line t * (3, 4, 0) / 5 plus a smaller spread along z.
        var z: [Float] = []
        for i in 0..<50 {
            let t = Float(i) - 25
            z += [0.6 * t, 0.8 * t, 0.1 * Float(i % 5)]
        }
        let first = Projection(latents: z, dimension: 3)
        #expect(abs(abs(first.axes[0][0]) - 0.6) < 1e-6 && abs(abs(first.axes[0][1]) - 0.8) < 1e-6)
        #expect(first.variances[0] > first.variances[1])
        // The same data negated gives axes of opposite sign; with the previous projection they are flipped back.
        let negated = z.map { -$0 }
        let aligned = Projection(latents: negated, dimension: 3, previous: first)
        for i in 0..<2 {
            let dot = zip(aligned.axes[i], first.axes[i]).reduce(0) { $0 + $1.0 * $1.1 }
            #expect(dot > 0.99)
        }
        let (x, _) = first.project(z[0..<3])
        #expect(abs(abs(x) - 24.5) < 1e-3)  // t = -25 against the mean t = -0.5
    }

    @Test("history folds steps, evals, reactivations; a resume drops what came after its snapshot")
    func history() throws {
        let lines = [
            #"{"v":1,"step":0,"time":1,"kind":"start","domains":["a","b"]}"#,
            #"{"v":1,"step":1,"time":2,"kind":"step","loss":3.5,"cv_mean":0.5,"tokens_per_s":100,"layers":[{"layer":0,"load":[0.5,0.5],"cv":0,"entropy":1,"nll":2,"dead":1}]}"#,
            #"{"v":1,"step":2,"time":3,"kind":"step","loss":3.0,"cv_mean":0.4,"tokens_per_s":110,"layers":[]}"#,
            #"{"v":1,"step":2,"time":3,"kind":"reactivation","event":"died","layer":0,"component":3,"expert":1,"prior":0.001}"#,
            #"{"v":1,"step":2,"time":3,"kind":"eval","val_bpb":4.5}"#,
            #"{"v":1,"step":2,"time":3,"kind":"snapshot","path":"x"}"#,
            #"{"v":1,"step":1,"time":9,"kind":"resume","from_step":1}"#,
            #"{"v":1,"step":2,"time":10,"kind":"step","loss":2.9,"cv_mean":0.3,"tokens_per_s":120,"layers":[]}"#,
        ]
        let dir = temporaryDirectory()
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/events.jsonl", atomically: true, encoding: .utf8)
        var reader = EventLogReader<RunEvent>(path: dir + "/events.jsonl")
        var history = RunHistory()
        history.append(try reader.readNew())
        #expect(history.domains == ["a", "b"])
        #expect(history.steps.map(\.step) == [1, 2])
        #expect(history.steps.last?.loss == 2.9)
        #expect(history.steps.first?.layers.first?.dead == 1)
        #expect(history.evals.isEmpty && history.reactivations.isEmpty && history.snapshots.isEmpty)
    }

    @Test("eval lines: bits per byte and the held-out CVs (mean and per layer); old lines have none")
    func heldoutCV() {
        let history = ViewsFixture.history([
            #"{"v":1,"step":50,"time":1,"kind":"eval","val_bpb":3.1}"#,
            #"{"v":1,"step":100,"time":2,"kind":"eval","val_bpb":2.9,"heldout_tokens":20864,"heldout_cv_mean_top1":0.26,"#
                + #""heldout_cv_mean_topk":0.25,"heldout_cv_mean_gate":0.27,"heldout_domains_bpb":3.4,"#
                + #""layers":[{"layer":0,"cv_top1":0.2,"cv_topk":0.3,"cv_gate":0.4,"load_topk":[0.5,0.5]}]}"#,
            #"{"v":1,"step":150,"time":3,"kind":"eval","domains":{}}"#,  // neither figure: skipped
        ])
        #expect(history.evals.map(\.step) == [50, 100])
        #expect(!history.evals[0].hasHeldoutCV && history.evals[0].bitsPerByte == 3.1)
        let e = history.latestHeldout
        #expect(e?.step == 100 && e?.heldoutTop1 == 0.26 && e?.heldoutTopK == 0.25 && e?.heldoutGate == 0.27)
        #expect(e?.heldoutTokens == 20864 && e?.heldoutDomainsBitsPerByte == 3.4)
        #expect(e?.layers == [RunHistory.EvalLayer(layer: 0, cvTop1: 0.2, cvTopK: 0.3, cvGate: 0.4)])
    }

    @Test("the follower sees complete lines and complete snapshots only")
    func follower() throws {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/snapshots", withIntermediateDirectories: true)
        var follower = RunFollower(directory: dir)
        #expect(try follower.poll().events.isEmpty)
        try #"{"v":1,"step":1,"time":2,"kind":"step","loss":1}"#.appending("\n{\"v\":1,\"st")
            .write(toFile: dir + "/events.jsonl", atomically: true, encoding: .utf8)
        FileManager.default.createFile(atPath: dir + "/snapshots/step-00000002.safetensors.tmp-99", contents: Data())
        FileManager.default.createFile(atPath: dir + "/snapshots/step-00000002.probe.safetensors", contents: Data())
        let first = try follower.poll()
        #expect(first.events.map(\.step) == [1])
        #expect(first.snapshots.isEmpty)
        try FileManager.default.moveItem(atPath: dir + "/snapshots/step-00000002.safetensors.tmp-99",
                                         toPath: dir + "/snapshots/step-00000002.safetensors")
        #expect(try follower.poll().snapshots == [2])
        #expect(try follower.poll().snapshots.isEmpty)
    }

    @Test("resolving paths: run, checkpoint, newest run, helpful errors")
    func resolve() throws {
        let root = temporaryDirectory()
        #expect(throws: RunSource.ResolveError.noRuns(root)) { try RunSource.resolve(nil, runsRoot: root) }
        try FileManager.default.createDirectory(atPath: root + "/old", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/new", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: root + "/old/run.json", contents: Data("{}".utf8),
                                       attributes: [.modificationDate: Date(timeIntervalSince1970: 1000)])
        FileManager.default.createFile(atPath: root + "/new/run.json", contents: Data("{}".utf8))
        #expect(try RunSource.resolve(nil, runsRoot: root) == .run(root + "/new"))
        #expect(try RunSource.resolve(root + "/old") == .run(root + "/old"))
        #expect(throws: RunSource.ResolveError.notARun(root)) { try RunSource.resolve(root) }
        #expect(throws: RunSource.ResolveError.missing(root + "/x")) { try RunSource.resolve(root + "/x") }
    }
}

@Suite("Imports: each snapshot's own tokens")
struct SnapshotTextTests {
    /// A run directory without probe.safetensors whose two snapshots (steps 1 and 2) hold recorded
    /// decisions for different tokens, as `python -m idamoe_torch import` writes them.
    static func importedRun() throws -> String {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/snapshots", withIntermediateDirectories: true)
        try Data(#"{"format":1,"created":1,"domains":[],"model":{"router":"recorded","experts":4,"topK":1},"training":{}}"#.utf8)
            .write(to: URL(fileURLWithPath: dir + "/run.json"))
        try Data().write(to: URL(fileURLWithPath: dir + "/events.jsonl"))
        for step in 1...2 {
            let stem = dir + "/snapshots/" + RunLayout.stepName(step)
            let info = CheckpointInfo(router: .recorded, moeLayers: [0],
                                      config: RouterConfig(experts: 4, componentsPerExpert: 1, latentDim: 1, topK: 1), step: step)
            try RouterCheckpoint(info: info, routers: [:]).write(to: stem + ".safetensors")
            var w = SafetensorsWriter()
            w.metadata = ["idamoe.vocab": "[]"]
            let n = step * 3
            try w.add("tokens", shape: [n], int32s: (0..<n).map { Int32(100 * step + $0) })
            try w.add("layers.0.experts", shape: [n, 1], int32s: (0..<n).map { Int32($0 % 4) })
            try w.write(to: stem + ".probe.safetensors")
        }
        return dir
    }

    @Test("a run without a run-level probe shows the analysed snapshot's tokens; a run with one, or --probe, does not")
    func ownText() throws {
        let dir = try Self.importedRun()
        let loader = SnapshotLoader(source: .run(dir), probeOverride: nil)
        #expect(loader.probeForText(step: nil) == nil)
        for step in 1...2 {
            let analysis = try loader.analyze(step: step, previous: nil).get()
            #expect(analysis.ownText?.tokens == (0..<(step * 3)).map { Int32(100 * step + $0) })
            #expect(analysis.ownText?.vocabulary.text(of: 101) == "<101>")
            var state = InspectorState(title: "t", live: false)
            _ = state.update(.snapshots([1, 2]))
            state.selectedStep = step
            _ = state.update(.analyzed(step: step, result: .success(analysis)))
            #expect(state.tokens.count == step * 3 && state.tokens.first == Int32(100 * step))
        }
        let probe = dir + "/snapshots/" + RunLayout.stepName(1) + ".probe.safetensors"
        #expect(try SnapshotLoader(source: .run(dir), probeOverride: probe).analyze(step: 2, previous: nil).get().ownText == nil)
    }
}
