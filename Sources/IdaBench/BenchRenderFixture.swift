import Foundation
import IdaFormats
import IdaNumerics
import IdaRouting
import IdaTraining

/// A synthetic live run directory for `idamoe bench render`, written through the project's own writers
/// (RunDirectory, SafetensorsWriter, RouterCheckpoint) so the benchmark reads it the way the inspector
/// reads a real run: run.json, events.jsonl with a step event per step (evals, reactivations and
/// snapshot events among them), the probe, and a snapshot every `snapshotEvery` steps (router
/// checkpoint + the probe's hidden states; the optimizer file, which the inspector never reads, is left out).
public struct BenchRenderFixture {
    /// The run directory.
    public let directory: String
    /// The model settings the run claims: D 128, 4 blocks all MoE, E 8, k 2, M 16, P 32, encoder 128 -> 128 -> 32.
    public let config: ModelConfig
    /// Probe tokens N.
    public let tokens: Int
    /// Training steps in the event log.
    public let steps: Int
    /// Snapshot steps, ascending.
    public let snapshots: [Int]
    /// Lines written to events.jsonl.
    public let eventLines: Int
    /// Bytes of one snapshot's probe file (hidden states of every MoE block).
    public let probeBytes: Int

    /// Domain names of the probe, in id order (Debian fortunes files).
    public static let domainNames = ["computers", "literature", "science", "wisdom"]

    /// Writes the run under `directory` (which must not hold a run yet).
    public static func write(in directory: String, tokens: Int, steps: Int, snapshotEvery: Int, seed: UInt64 = 1) throws -> BenchRenderFixture {
        let config = ModelConfig()
        var options = TrainingOptions()
        options.steps = steps
        options.snapshotEvery = snapshotEvery
        let run = try RunDirectory(path: directory, fresh: true)
        let text = ProbeText(tokens: tokens, domains: domainNames.count, seed: seed)
        try run.writeManifest(manifest(config: config, options: options, probeTokens: tokens))
        _ = try RunManifest.read(directory)  // the manifest must decode as the trainer's does
        let hidden = text.hiddenStates(layers: config.moeLayers, width: config.width, seed: seed)
        try writeProbe(text, hidden: [:], to: RunLayout(directory).probe)
        let routers = try makeRouters(config: config, hidden: hidden, seed: seed)
        var history = EventHistory(config: config, seed: seed)
        try run.append(RunEvent(step: 0, .start(StartEvent(parameters: 2_500_000, router: "ida", domains: domainNames))))
        var lines = 1, snapshots: [Int] = [], firstProbe: String?
        for step in 1...max(1, steps) {
            for body in history.events(step: step, evalEvery: options.evalEvery) {
                try run.append(RunEvent(step: step, body))
                lines += 1
            }
            guard step % snapshotEvery == 0 || step == steps else { continue }
            // Probe first, then the model: the model file under its final name marks a complete snapshot.
            // Every snapshot's probe holds the same hidden states here: a hard link saves 100 MB a snapshot.
            let probePath = run.layout.probe(step: step)
            if !(firstProbe.map { link($0, probePath) == 0 } ?? false) {
                try writeProbe(text, hidden: hidden, to: probePath)
                firstProbe = probePath
            }
            let info = CheckpointInfo(router: .ida, moeLayers: config.moeLayers, config: config.routerConfig, step: step)
            try RouterCheckpoint(info: info, routers: routers).write(to: run.layout.snapshot(step: step),
                                                                     extraMetadata: ["idamoe.vocab": "bytes"])
            try run.append(RunEvent(step: step, .snapshot(SnapshotEvent(path: RunLayout.relativeSnapshot(step: step),
                                                                         probe: RunLayout.relativeProbe(step: step)))))
            lines += 1
            snapshots.append(step)
        }
        let bytes = (try? FileManager.default.attributesOfItem(atPath: firstProbe ?? ""))?[.size] as? Int ?? 0
        return BenchRenderFixture(directory: directory, config: config, tokens: tokens, steps: max(1, steps), snapshots: snapshots,
                                  eventLines: lines, probeBytes: bytes)
    }

    /// run.json as the trainer writes it, from the model and training settings (`RunManifest`).
    public static func manifest(config: ModelConfig, options: TrainingOptions, probeTokens: Int) throws -> String {
        try RunManifest(model: config, training: options, domains: domainNames, corpusBytes: 4_000_000, parameters: 2_500_000,
                        probeTokens: probeTokens, created: Date().timeIntervalSince1970).encoded()
    }

    /// A probe file: tokens, domains, documents and (for snapshots) `layers.{i}.hidden` [N, D] F32.
    public static func writeProbe(_ text: ProbeText, hidden: [Int: Matrix], to path: String) throws {
        try ProbeContents(tokens: text.tokens, domains: text.domains, documents: text.documents,
                          domainNames: domainNames, hidden: hidden).write(to: path)
    }

    /// IDA routers as training leaves them: the mixture placed on real latents (as the trainer starts
    /// it), then uneven priors with about one component in twelve dead (prior near zero).
    public static func makeRouters(config: ModelConfig, hidden: [Int: Matrix], seed: UInt64) throws -> [Int: LayerRouter] {
        var rng = SeededGenerator(seed: seed &+ 100)
        var routers: [Int: LayerRouter] = [:]
        for i in config.moeLayers {
            var r = try IDARouter(config: config.routerConfig, hiddenDim: config.width, hidden: config.routerHidden, rng: &rng)
            if let h = hidden[i] {
                let sample = min(h.rows, 4096)
                r.initializeMixture(from: h.rows(0..<sample), rng: &rng)
            }
            for k in 0..<r.gmm.components {
                r.gmm.logits[k] = rng.unitDouble() < 1.0 / 12 ? -9 : rng.normal() * 0.8
            }
            routers[i] = .ida(r)
        }
        return routers
    }
}
