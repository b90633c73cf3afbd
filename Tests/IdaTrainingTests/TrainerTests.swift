import Foundation
import IdaTestSupport
import Testing
import IdaFormats
import IdaNumerics
import IdaRouting
@testable import IdaTraining

@Suite("Trainer and run directories", .serialized)
struct TrainerTests {
    @Test("step timings: every phase is counted once per step and lies inside the step", arguments: [1, 2])
    func stepTimings(threads: Int) throws {
        let dir = temporaryDirectory()
        let corpus = try writeCorpus(in: dir)
        var options = tinyOptions(corpus: corpus, steps: 4)
        options.threads = threads
        let trainer = try Trainer(config: tinyTrainingConfig(), options: options, runDir: dir + "/run")
        try trainer.train(stopAt: 1)
        trainer.resetStepTimings()
        #expect(trainer.stepTimings == StepTimings())
        try trainer.train(stopAt: 3)
        let t = trainer.stepTimings
        #expect(t.steps == 2)
        #expect(t.forward > 0 && t.backward > 0 && t.optimizer > 0 && t.reactivation > 0)
        #expect(t.forwardSlowest >= t.forwardFastest && t.backwardSlowest >= t.backwardFastest)
        // A worker's own time is within the phase's wall time (the clock reads nest).
        #expect(t.forwardSlowest <= t.forward && t.backwardSlowest <= t.backward)
        let phases = t.forward + t.combine + t.backward + t.merge + t.optimizer + t.reactivation
        #expect(phases <= t.total, "phases \(phases) s of \(t.total) s")
        if threads == 1 { #expect(t.forwardSlowest == t.forward && t.combine == 0 && t.merge == 0) }
    }

    @Test("a short run writes a directory every reader accepts", arguments: [RouterKind.ida, .softmax, .sigmoidBias])
    func shortRun(router: RouterKind) throws {
        let dir = temporaryDirectory()
        let corpus = try writeCorpus(in: dir)
        let trainer = try Trainer(config: tinyTrainingConfig(router: router), options: tinyOptions(corpus: corpus),
                                  runDir: dir + "/run")
        try trainer.train()
        let manifest = try RunManifest.read(dir + "/run")
        #expect(manifest.model.router == router)
        #expect(manifest.domains.sorted() == ["code", "math", "poems"])
        var reader = EventLogReader<EventRecord>(path: RunLayout(dir + "/run").events)
        let events = try reader.readNew()
        #expect(reader.skippedLines == 0)
        #expect(events.filter { $0.kind == "step" }.map(\.step) == Array(1...6))
        #expect(events.filter { $0.kind == "eval" }.count == 2)
        // Held-out CV: three loads' CVs per layer and their means over layers.
        let eval = try #require(events.last { $0.kind == "eval" })
        let heldout = eval.fields["layers"]?.array ?? []
        #expect(heldout.count == 2)
        for key in ["cv_top1", "cv_topk", "cv_gate"] {
            let values = heldout.compactMap { $0[key]?.double }
            #expect(values.count == 2 && values.allSatisfy { $0.isFinite && $0 >= 0 }, "\(key)")
            let mean = try #require(eval.fields["heldout_cv_mean_" + key.dropFirst(3)]?.double)
            #expect(abs(mean - values.reduce(0, +) / 2) < 2e-6, "\(key)")
        }
        let gateLoad = heldout.first?["load_gate"]?.array?.compactMap(\.double) ?? []
        #expect(gateLoad.count == 4 && abs(gateLoad.reduce(0, +) - 1) < 1e-5)
        // Held-out MaxVio: the largest load over the mean, minus 1, of the loads written beside it.
        var vios: [Double] = []
        for layer in heldout {
            let topk = layer["load_topk"]?.array?.compactMap(\.double) ?? []
            let vio = try #require(layer["max_vio_topk"]?.double)
            #expect(abs(vio - ((topk.max() ?? .nan) * Double(topk.count) / topk.reduce(0, +) - 1)) < 1e-4)
            let gate = layer["load_gate"]?.array?.compactMap(\.double) ?? []
            #expect(abs((layer["max_vio_gate"]?.double ?? .nan) - ((gate.max() ?? .nan) * Double(gate.count) / gate.reduce(0, +) - 1)) < 1e-4)
            #expect((layer["max_vio_top1"]?.double ?? -1) >= 0)
            vios.append(vio)
        }
        #expect(abs((eval.fields["heldout_max_vio_mean_topk"]?.double ?? .nan) - vios.reduce(0, +) / 2) < 2e-6)
        // Load quantiles: p50, p90, p99, max of the top-k load written beside them (eval) and of the
        // step's batch load (every step), by LayerMetrics.quantiles, to the log's six decimals.
        func quantilesAgree(_ layer: JSONValue, _ loadKey: String) -> Bool {
            let load = layer[loadKey]?.array?.compactMap(\.double) ?? []
            let want = LayerMetrics.quantiles(load, LayerMetrics.reportedQuantiles)
            let got = ["p50", "p90", "p99", "max"].compactMap { layer["load_quantiles"]?[$0]?.double }
            return load.count == 4 && got.count == 4 && zip(got, want).allSatisfy { abs($0 - $1) <= 1e-6 }
        }
        for layer in heldout { #expect(quantilesAgree(layer, "load_topk"), "\(layer.serialized())") }
        for record in events where record.kind == "step" {
            for layer in record.fields["layers"]?.array ?? [] { #expect(quantilesAgree(layer, "load"), "\(layer.serialized())") }
        }
        #expect((eval.fields["heldout_tokens"]?.double ?? 0) > 0)
        #expect(events.first?.kind == "start" && events.last?.kind == "done")
        let step = events.first { $0.kind == "step" }
        let layers = step?.fields["layers"]?.array ?? []
        #expect(layers.count == 2)
        #expect(layers.first?["load"]?.array?.count == 4)
        if router == .ida { #expect(layers.first?["nll"]?.double != nil) }
        // Snapshots are checkpoints and probes under the contract: `idamoe route` can stream them.
        #expect(RunLayout(dir + "/run").snapshotSteps() == [3, 6])
        let ck = try RouterCheckpoint(path: RunLayout(dir + "/run").snapshot(step: 6))
        #expect(ck.info.moeLayers == [0, 1] && ck.info.step == 6)
        let probe = try Probe(path: RunLayout(dir + "/run").probe(step: 6))
        let metrics = try ProbeRouting(checkpoint: ck, probe: probe).run()
        #expect(metrics[1]?.tokens == probe.count)
        #expect(ck.info.router == router && ck.routers[1]?.kind == router)
        if router == .sigmoidBias, case let .softmax(r)? = ck.routers[1] {
            // Six steps of +-0.001 from zero: every bias moved, none beyond six steps' worth.
            #expect(r.selectionBias.count == 4 && r.selectionBias.allSatisfy { $0 != 0 && abs($0) <= 0.006 + 1e-6 }, "\(r.selectionBias)")
        }
        // Only the newest optimizer state is kept.
        #expect(!FileManager.default.fileExists(atPath: RunLayout(dir + "/run").optimizer(step: 3)))
    }

    @Test("held-out domains: no training text; val_bpb covers the seen domains, heldout_domains_bpb the others")
    func heldOutDomains() throws {
        let dir = temporaryDirectory()
        var options = tinyOptions(corpus: try writeCorpus(in: dir))
        options.holdoutDomains = ["math"]
        let trainer = try Trainer(config: tinyTrainingConfig(), options: options, runDir: dir + "/run")
        #expect(!trainer.dataset.train.domains.contains(Int32(trainer.dataset.domainNames.firstIndex(of: "math") ?? -1)))
        try trainer.train()
        var reader = EventLogReader<EventRecord>(path: RunLayout(dir + "/run").events)
        let eval = try #require(try reader.readNew().last { $0.kind == "eval" })
        let perDomain = try #require(eval.fields["domains"]?.object)
        let seen = ["code", "poems"].compactMap { perDomain[$0]?.double }
        let val = try #require(eval.fields["val_bpb"]?.double)
        #expect(seen.count == 2 && val >= seen.min()! - 1e-6 && val <= seen.max()! + 1e-6)
        #expect(abs((eval.fields["heldout_domains_bpb"]?.double ?? .nan) - (perDomain["math"]?.double ?? .nan)) < 1e-5)
        options.holdoutDomains = ["code", "math", "poems"]
        #expect(throws: SettingError.self) { try Trainer(config: tinyTrainingConfig(), options: options, runDir: dir + "/other") }
    }

    @Test("the sigmoid-bias router refuses an auxiliary or z-loss, naming the field")
    func sigmoidBiasWithoutAuxLoss() throws {
        let dir = temporaryDirectory()
        var options = tinyOptions(corpus: try writeCorpus(in: dir))
        options.auxLoss = 0.01
        #expect {
            try Trainer(config: tinyTrainingConfig(router: .sigmoidBias), options: options, runDir: dir + "/run")
        } throws: { error in
            "\(error)".contains("auxLoss") && "\(error)".contains("sigmoid-bias")
        }
    }

    /// Killed after step 4 (the step-3 snapshot is the newest) or after step 2 (before the first
    /// snapshot: resume starts over from step 0), a resumed run ends with the uninterrupted run's weights.
    /// With `--reseed pool` the pool of recent latents is part of the saved state; with `split` (resets
    /// at every check, 2, 4 and 6) the back-off: the step-4 reset makes the component wait out step 6.
    @Test("resume continues exactly where an uninterrupted run would be",
          arguments: [(4, 3, Reseed.outliers), (2, 0, .outliers), (4, 3, .pool), (4, 3, .split)])
    func resumeMatches(killedAfter: Int, resumesFrom: Int, reseed: Reseed) throws {
        let dir = temporaryDirectory()
        let corpus = try writeCorpus(in: dir)
        var options = tinyOptions(corpus: corpus)
        options.reseed = reseed
        if reseed != .outliers { options.reactTau = 1.5 }  // unused components die at every check, so resets draw from the pool or split
        let straight = try Trainer(config: tinyTrainingConfig(), options: options, runDir: dir + "/a")
        try straight.train()
        if reseed == .pool {
            let optim = try SafetensorsFile(path: RunLayout(dir + "/a").optimizer(step: 6))
            #expect(optim.tensors.contains { $0.name.hasSuffix(".pool") }, "the pool is saved")
        }
        do {
            let first = try Trainer(config: tinyTrainingConfig(), options: options, runDir: dir + "/b")
            try first.train(stopAt: killedAfter)
        }
        if reseed == .split {
            let optim = try SafetensorsFile(path: RunLayout(dir + "/b").optimizer(step: 3))
            let attempts = try optim.int32s("react.0.attempts") + optim.int32s("react.1.attempts")
            #expect(attempts.contains { $0 > 0 }, "the back-off is saved")
        }
        // Simulate a crash mid-write: a torn event line.
        let events = RunLayout(dir + "/b").events
        let handle = try #require(FileHandle(forWritingAtPath: events))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"v\":1,\"step\":5,\"ti".utf8))
        try handle.close()
        let resumed = try Trainer(resuming: dir + "/b")
        #expect(resumed.step == resumesFrom)
        try resumed.train()
        let a = try SafetensorsFile(path: RunLayout(dir + "/a").snapshot(step: 6))
        let b = try SafetensorsFile(path: RunLayout(dir + "/b").snapshot(step: 6))
        for t in a.tensors {
            #expect(try a.floats(t.name) == b.floats(t.name), "\(t.name) differs after resume")
        }
        var reader = EventLogReader<EventRecord>(path: events)
        let all = try reader.readNew()
        #expect(reader.skippedLines == 1)  // the torn line, terminated on resume
        #expect(all.contains { $0.kind == "resume" && $0.step == resumesFrom })
    }

    @Test("killed after its final snapshot, before logging it or `done`: a resume logs each once and trains nothing")
    func resumeAfterFinalSnapshot() throws {
        let dir = temporaryDirectory()
        let corpus = try writeCorpus(in: dir)
        try Trainer(config: tinyTrainingConfig(), options: tinyOptions(corpus: corpus), runDir: dir + "/run").train()
        let events = RunLayout(dir + "/run").events
        // Drop the final snapshot event and `done`, as a kill right after publishing the snapshot leaves them.
        let lines = try String(contentsOfFile: events, encoding: .utf8).split(separator: "\n")
        let kept = lines.filter { !($0.contains("\"kind\":\"done\"") || ($0.contains("\"kind\":\"snapshot\"") && $0.contains("\"step\":6"))) }
        #expect(kept.count == lines.count - 2)
        try Data((kept.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: events))
        do {
            let resumed = try Trainer(resuming: dir + "/run")
            #expect(resumed.step == 6)
            try resumed.train()
        }  // the trainer (and its lock) ends here
        var reader = EventLogReader<EventRecord>(path: events)
        let all = try reader.readNew()
        #expect(all.filter { $0.kind == "done" }.map(\.step) == [6])
        #expect(all.filter { $0.kind == "snapshot" && $0.step == 6 }.count == 1)
        #expect(all.last?.kind == "done" && !all.contains { $0.kind == "step" && $0.step > 6 })
        // Now complete: a bare resume is refused and changes nothing.
        #expect(throws: SettingError.self) { try Trainer(resuming: dir + "/run") }
    }

    @Test("killed between run.json and `start`: a resume writes the probe and logs `start` first, once")
    func resumeBeforeStart() throws {
        let dir = temporaryDirectory()
        let corpus = try writeCorpus(in: dir)
        let layout = RunLayout(dir + "/run")
        do { _ = try Trainer(config: tinyTrainingConfig(), options: tinyOptions(corpus: corpus), runDir: dir + "/run") }
        // Leave what a kill right after publishing run.json leaves: no probe, an empty event log.
        try FileManager.default.removeItem(atPath: layout.probe)
        try Data().write(to: URL(fileURLWithPath: layout.events))
        do {
            let resumed = try Trainer(resuming: dir + "/run")
            #expect(resumed.step == 0)
            try resumed.train()
        }
        var reader = EventLogReader<EventRecord>(path: layout.events)
        let all = try reader.readNew()
        #expect(all.first?.kind == "start" && all.filter { $0.kind == "start" }.count == 1)
        #expect(all.dropFirst().first?.kind == "resume" && all.last?.kind == "done")
        #expect(FileManager.default.fileExists(atPath: layout.probe))
    }

    @Test("a second trainer on the same directory is refused; an existing run is not overwritten")
    func locking() throws {
        let dir = temporaryDirectory()
        let corpus = try writeCorpus(in: dir)
        let first = try Trainer(config: tinyTrainingConfig(), options: tinyOptions(corpus: corpus), runDir: dir + "/run")
        #expect(throws: RunFileError.writerActive(path: dir + "/run")) {
            try Trainer(resuming: dir + "/run")
        }
        // Deleting every file of the run does not let a second writer in: the lock is the directory's.
        for name in try FileManager.default.contentsOfDirectory(atPath: dir + "/run") where name != "snapshots" {
            unlink(dir + "/run/" + name)
        }
        try Data("{}".utf8).write(to: URL(fileURLWithPath: dir + "/run/run.json"))
        #expect(throws: RunFileError.writerActive(path: dir + "/run")) {
            _ = try RunDirectory(path: dir + "/run", fresh: false)
        }
        _ = first
        do {
            _ = try Trainer(config: tinyTrainingConfig(), options: tinyOptions(corpus: corpus), runDir: dir + "/run")
            Issue.record("a fresh run was started over an existing one")
        } catch {
            #expect(String(describing: error).contains("already holds a run"))
        }
    }
}
