import Foundation
import IdaFormats
import IdaNumerics
import IdaRouting
import IdaTerminal
import IdaTestSupport
@testable import IdaInspector

/// A small, fully deterministic inspector state for view tests: an IDA (or softmax) checkpoint with
/// MoE blocks 1 and 3 (E = 4, M = 3, P = 3, D = 8), a two-domain probe, and a run history.
enum ViewsFixture {
    /// Probe text: prose (domain 0) then code (domain 1).
    static let prose = "The quick brown fox jumps over the lazy dog.\nPack my box with five dozen liquor jugs!\n"
        + "Sphinx of black quartz, judge my vow; how vexingly quick daft zebras jump, and the five boxing wizards jump quickly.\n"
    static let code = "func f(x: Int) -> Int {\n\treturn x * 2 + 1\n}\nlet ys = [1, 2, 3].map { f(x: $0) }\n"

    /// Probe tokens (bytes) and their domains.
    static var tokens: [Int32] { (prose + code).utf8.map { Int32($0) } }
    static var domains: [Int32] { prose.utf8.map { _ in 0 } + code.utf8.map { _ in 1 } }

    /// Hidden states [N, 8]: a per-domain offset, a slow drift along the text, and noise.
    static func hidden(layer: Int) -> Matrix {
        let n = tokens.count
        let noise = randomMatrix(rows: n, cols: 8, scale: 0.4, seed: UInt64(10 + layer))
        var h = Matrix(rows: n, cols: 8)
        for i in 0..<n {
            for j in 0..<8 {
                let offset: Float = domains[i] == 0 ? (j % 2 == 0 ? 1.5 : -0.5) : (j % 3 == 0 ? -1.5 : 0.8)
                h.data[i * 8 + j] = offset + Float(i % 7) * 0.1 * Float(j - 4) / 4 + noise.data[i * 8 + j]
            }
        }
        return h
    }

    /// The routers of `buildCheckpoint`, as recorded in Fixtures/ (literal data: no BLAS at test time).
    static func checkpoint(softmax: Bool = false, step: Int = 300) throws -> RouterCheckpoint {
        var ck = try RecordedRouting.checkpoint(softmax ? "views-softmax" : "views-ida") {
            try buildCheckpoint(softmax: softmax)
        }
        ck.info.step = step
        return ck
    }

    /// Routers whose mixture sits on the data (means on encoded tokens, as training starts them),
    /// with one component per layer given a tiny prior so it counts as dead. Run only to record the
    /// fixture.
    static func buildCheckpoint(softmax: Bool = false, step: Int = 300) throws -> RouterCheckpoint {
        var rng = SeededGenerator(seed: 7)
        let config = RouterConfig(experts: 4, componentsPerExpert: 3, latentDim: 3, topK: 2)
        var routers: [Int: LayerRouter] = [:]
        for layer in [1, 3] {
            if softmax {
                routers[layer] = .softmax(try SoftmaxRouter(experts: 4, hiddenDim: 8, topK: 2, rng: &rng))
                continue
            }
            var r = try IDARouter(config: config, hiddenDim: 8, hidden: [6], rng: &rng)
            let h = hidden(layer: layer)
            guard let z = LayerRouter.ida(r).route(h, keepLatents: true).latents else { continue }
            let n = h.rows
            // Components a third of the latent spread wide, centred on tokens spread over the probe.
            let variance = (0..<3).map { j -> Float in
                let mean = (0..<n).reduce(Float(0)) { $0 + z.data[$1 * 3 + j] } / Float(n)
                return (0..<n).reduce(Float(0)) { $0 + (z.data[$1 * 3 + j] - mean) * (z.data[$1 * 3 + j] - mean) } / Float(n)
            }
            for k in 0..<12 {
                let token = (k * 37 + layer * 11) % n
                for j in 0..<3 { r.gmm.means.data[k * 3 + j] = z.data[token * 3 + j] }
                for j in 0..<3 { r.gmm.logVars.data[k * 3 + j] = Foundation.log(max(variance[j], 1e-6) / 9) }
                r.gmm.logits[k] = Float(k % 4) * 0.3
            }
            r.gmm.logits[5 + layer] = -9
            routers[layer] = .ida(r)
        }
        let info = CheckpointInfo(router: softmax ? .softmax : .ida, moeLayers: [1, 3], config: config, step: step)
        return RouterCheckpoint(info: info, routers: routers)
    }

    /// The probe routed through the checkpoint, from the routing recorded in Fixtures/.
    static func analysis(softmax: Bool = false) throws -> SnapshotAnalysis {
        let ck = try checkpoint(softmax: softmax)
        return try analysis(of: ck, recordedAs: softmax ? "views-softmax" : "views-ida")
    }

    /// The analysis of `ck` on the probe from the routing recorded as `name` (recorded on first use
    /// by routing the whole probe at once).
    static func analysis(of ck: RouterCheckpoint, recordedAs name: String) throws -> SnapshotAnalysis {
        let results = try RecordedRouting.routing(name) {
            var out: [Int: RoutingResult] = [:]
            for (layer, router) in ck.routers {
                out[layer] = router.route(hidden(layer: layer), keepLatents: true, reconstruct: true)
            }
            return out
        }
        return SnapshotAnalysis(checkpoint: ck, results: results)
    }

    /// The probe file: tokens, domains and hidden states of blocks 1 and 3.
    static func probe() throws -> Probe {
        let dir = temporaryDirectory()
        var writer = SafetensorsWriter()
        writer.metadata = ["idamoe.vocab": "bytes", "idamoe.domain_names": "[\"prose\", \"code\"]"]
        try writer.add("tokens", shape: [tokens.count], int32s: tokens)
        try writer.add("domains", shape: [tokens.count], int32s: domains)
        for layer in [1, 3] {
            try writer.add("layers.\(layer).hidden", shape: [tokens.count, 8], floats: hidden(layer: layer).data)
        }
        try writer.write(to: dir + "/probe.safetensors")
        return try Probe(path: dir + "/probe.safetensors")
    }

    /// Event-log lines: 30 steps, three evals and snapshots, reactivations in layer 1 and 3.
    static var eventLines: [String] {
        var lines = [#"{"v":1,"step":0,"time":0,"kind":"start","domains":["prose","code"]}"#]
        for i in 1...30 {
            let step = i * 10
            let loss = 3.2 * Foundation.exp(-Double(i) / 12) + 1.1
            let cv = 0.9 - 0.5 * Double(i) / 30 + (i % 4 == 0 ? 0.05 : 0)
            let dead1 = i < 12 ? 0 : i < 18 ? 1 : i < 25 ? 0 : 1
            let t = Double(i) / 30
            let load1 = "[\(0.31 - 0.2 * t),0.27,\(0.24 - 0.05 * t),\(0.18 + 0.25 * t)]", load3 = "[0.28,0.26,0.25,0.21]"
            lines.append(#"{"v":1,"step":\#(step),"time":\#(i),"kind":"step","loss":\#(loss),"cv_mean":\#(cv),"#
                + #""tokens_per_s":\#(12000 + i * 37),"layers":[{"layer":1,"load":\#(load1),"cv":\#(0.19 + 0.5 * t),"entropy":1.7,"#
                + #""nll":2.1,"dead":\#(dead1)},{"layer":3,"load":\#(load3),"cv":0.1,"entropy":1.8,"nll":2.4,"dead":0}]}"#)
            if step % 100 == 0 {
                // Held-out CV: top-k falling below the train CV, top-1 and gate above it.
                let k = 0.7 - Double(step) / 600
                lines.append(#"{"v":1,"step":\#(step),"time":\#(i),"kind":"eval","val_bpb":\#(4.2 - Double(step) / 200),"#
                    + #""heldout_tokens":512,"heldout_cv_mean_top1":\#(k + 0.1),"heldout_cv_mean_topk":\#(k),"#
                    + #""heldout_cv_mean_gate":\#(k + 0.05),"layers":[{"layer":1,"cv_top1":\#(k + 0.2),"cv_topk":\#(k + 0.1),"#
                    + #""cv_gate":\#(k + 0.15)},{"layer":3,"cv_top1":\#(k),"cv_topk":\#(k - 0.1),"cv_gate":\#(k - 0.05)}]}"#)
                lines.append(#"{"v":1,"step":\#(step),"time":\#(i),"kind":"snapshot","path":"x"}"#)
            }
        }
        lines.append(#"{"v":1,"step":120,"time":12,"kind":"reactivation","event":"died","layer":1,"component":6,"expert":2,"prior":0.0004}"#)
        lines.append(#"{"v":1,"step":130,"time":13,"kind":"reactivation","event":"reset","layer":1,"component":6,"expert":2,"prior":0.0004}"#)
        lines.append(#"{"v":1,"step":180,"time":18,"kind":"reactivation","event":"revived","layer":1,"component":6,"expert":2,"prior":0.02}"#)
        lines.append(#"{"v":1,"step":250,"time":25,"kind":"reactivation","event":"died","layer":1,"component":6,"expert":2,"prior":0.0003}"#)
        lines.append(#"{"v":1,"step":260,"time":26,"kind":"reactivation","event":"died","layer":3,"component":8,"expert":2,"prior":0.0005}"#)
        return lines.sorted { step(of: $0) < step(of: $1) }
    }

    /// The "step" field of a line (for ordering the log as a run writes it).
    static func step(of line: String) -> Int {
        RunEvent(line: line)?.step ?? 0
    }

    /// A history from event lines.
    static func history(_ lines: [String] = eventLines) -> RunHistory {
        var history = RunHistory()
        history.append(lines.compactMap { RunEvent(line: $0) })
        return history
    }

    /// The full state: live run (a writer holds its lock) following, snapshot 300 selected and analysed, cursor inside a word.
    static func state(screen: Screen = .overview, softmax: Bool = false, width: Int = 120, height: Int = 40) throws -> InspectorState {
        var s = InspectorState(title: "runs/demo", live: true)
        s.writer = .live  // the trainer holds the run's lock
        s.screen = screen
        s.tokens = tokens
        s.domains = domains
        s.domainNames = ["prose", "code"]
        s.history = history()
        s.snapshots = [100, 200, 300]
        s.selectedStep = 300
        s.analysis = try analysis(softmax: softmax)
        s.cursor = 10
        s.width = width
        s.height = height
        return s
    }

    /// Renders `state` at each size in `mode`, labelled "WxH".
    static func frames(_ state: InspectorState, sizes: [(Int, Int)], mode: DisplayMode = .full) -> [(String, ScreenBuffer)] {
        sizes.map { size in
            var buffer = ScreenBuffer(width: size.0, height: size.1)
            InspectorView.render(state, mode: mode, into: &buffer)
            return ("\(size.0)x\(size.1)", buffer)
        }
    }
}
