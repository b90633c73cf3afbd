import Foundation
import IdaFormats
import IdaNumerics
import IdaRouting

extension Trainer {
    /// Metadata of a model snapshot: the router contract plus the model and training settings.
    func snapshotMetadata() throws -> [String: String] {
        let info = CheckpointInfo(router: config.router, moeLayers: config.moeLayers,
                                  config: config.routerConfig, step: step)
        var meta = info.metadata
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        meta["idamoe.model"] = String(decoding: try encoder.encode(config), as: UTF8.self)
        meta["idamoe.vocab"] = "bytes"
        return meta
    }

    /// Writes the probe hidden states, the optimizer state and the model for the current step, in that
    /// order and each atomically, so the model file appearing marks a complete snapshot.
    func snapshot() throws {
        let layout = run.layout
        try writeProbe(to: layout.probe(step: step), hidden: probeHiddenStates())
        try writeOptimizerState(to: layout.optimizer(step: step))
        var writer = SafetensorsWriter()
        writer.metadata = try snapshotMetadata()
        var failure: Error?
        model.visitParameters { name, shape, value, _ in
            do { try writer.add(name, shape: shape, floats: value) } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
        try writer.write(to: layout.snapshot(step: step))
        // Resuming needs only the newest optimizer state; older ones (twice the model's size) are dropped.
        for old in layout.snapshotSteps() where old < step {
            try? FileManager.default.removeItem(atPath: layout.optimizer(step: old))
        }
        try logSnapshot()
    }

    /// The `snapshot` event of the current step.
    func logSnapshot() throws {
        try run.append(RunEvent(step: step, .snapshot(SnapshotEvent(path: RunLayout.relativeSnapshot(step: step),
                                                                     probe: RunLayout.relativeProbe(step: step)))))
    }

    /// The probe's router inputs at every MoE block, [N, D] each, in windows of T tokens.
    func probeHiddenStates() -> [Int: [Float]] {
        model.routerInputs(windowed: dataset.probe.tokens.map { Int32($0) }, context: context)
    }

    /// A probe file (docs/format.md) with the run's probe tokens and the given hidden states.
    func writeProbe(to path: String, hidden: [Int: [Float]]) throws {
        let p = dataset.probe
        let n = p.tokens.count
        try ProbeContents(tokens: p.tokens.map { Int32($0) }, domains: p.domains, documents: p.documents,
                          domainNames: dataset.domainNames,
                          hidden: hidden.mapValues { Matrix(rows: n, cols: config.width, data: $0) }, step: step)
            .write(to: path)
    }

    /// AdamW moments, the step counter, the sampler and the reactivation states.
    func writeOptimizerState(to path: String) throws {
        var writer = SafetensorsWriter()
        writer.metadata = ["idamoe.format": "1", "idamoe.step": String(step),
                           "adam.step": String(optimizer.step), "sampler.state": String(sampler.rng.state)]
        for name in optimizer.m.keys.sorted() {
            guard let m = optimizer.m[name], let v = optimizer.v[name] else { continue }
            try writer.add("m.\(name)", shape: [m.count], floats: m)
            try writer.add("v.\(name)", shape: [v.count], floats: v)
        }
        for (i, state) in reactivation.sorted(by: { $0.key < $1.key }) {
            let k = state.usage.count, p = config.latentDim
            try writer.add("react.\(i).usage", shape: [k], doubles: state.usage)
            try writer.add("react.\(i).dead", shape: [k], int32s: state.dead.map { $0 ? 1 : 0 })
            try writer.add("react.\(i).remaining", shape: [k], int32s: state.remaining.map { Int32($0) })
            try writer.add("react.\(i).attempts", shape: [k], int32s: state.attempts.map { Int32(clamping: $0) })
            try writer.add("react.\(i).wait", shape: [k], int32s: state.wait.map { Int32(clamping: $0) })
            let targets = state.targets.flatMap { $0.count == p ? $0 : [Float](repeating: .nan, count: p) }
            try writer.add("react.\(i).targets", shape: [k, p], floats: targets)
            if !state.pool.isEmpty {  // --reseed pool: the recent worst-explained latents, oldest first
                try writer.add("react.\(i).pool", shape: [state.pool.count, p], floats: state.pool.flatMap { $0 })
            }
            writer.metadata["react.\(i).rng"] = String(state.rng.state)
            writer.metadata["react.\(i).observed"] = state.observed ? "1" : "0"
        }
        try writer.write(to: path)
    }

    /// Loads the model and optimizer state of snapshot `step`.
    func restore(step snapshotStep: Int) throws {
        let modelFile = try SafetensorsFile(path: run.layout.snapshot(step: snapshotStep))
        let optimFile = try SafetensorsFile(path: run.layout.optimizer(step: snapshotStep))
        try model.loadParameters(from: modelFile)
        var adam = AdamW(weightDecay: options.weightDecay)
        adam.step = Int(optimFile.metadata["adam.step"] ?? "") ?? snapshotStep
        for t in optimFile.tensors where t.name.hasPrefix("m.") {
            let name = String(t.name.dropFirst(2))
            adam.m[name] = try optimFile.floats(t.name)
            adam.v[name] = try optimFile.floats("v.\(name)")
        }
        optimizer = adam
        if let state = optimFile.metadata["sampler.state"].flatMap(UInt64.init) { sampler.rng.state = state }
        for i in reactivation.keys {
            guard var state = reactivation[i], optimFile.info("react.\(i).usage") != nil else { continue }
            let p = config.latentDim
            state.usage = try optimFile.doubles("react.\(i).usage")
            state.dead = try optimFile.int32s("react.\(i).dead").map { $0 != 0 }
            state.remaining = try optimFile.int32s("react.\(i).remaining").map(Int.init)
            // Written before the back-off existed: no intervention counted, none waiting.
            for (key, path) in [("attempts", \ReactivationState.attempts), ("wait", \ReactivationState.wait)] {
                let name = "react.\(i).\(key)"
                guard optimFile.info(name) != nil else { continue }
                let values = try optimFile.int32s(name).map { max(0, Int($0)) }
                guard values.count == state.usage.count else {
                    throw TrainingError.unreadable(path: run.layout.optimizer(step: snapshotStep),
                                                   reason: "\(name) has \(values.count) values, expected \(state.usage.count)")
                }
                state[keyPath: path] = values
            }
            let flat = try optimFile.floats("react.\(i).targets")
            state.targets = (0..<state.usage.count).map { k in
                let row = Array(flat[(k * p)..<((k + 1) * p)])
                return row.contains(where: \.isNaN) ? [] : row
            }
            if let info = optimFile.info("react.\(i).pool") {
                guard info.shape.count == 2, info.shape[1] == p else {
                    throw TrainingError.unreadable(path: run.layout.optimizer(step: snapshotStep),
                                                   reason: "react.\(i).pool has shape \(info.shape), expected [n, \(p)]")
                }
                let pooled = try optimFile.floats("react.\(i).pool")
                state.pool = (0..<info.shape[0]).map { Array(pooled[($0 * p)..<(($0 + 1) * p)]) }
            }
            if let rng = optimFile.metadata["react.\(i).rng"].flatMap(UInt64.init) { state.rng.state = rng }
            // Written before the field existed: usage had been observed by any saved step.
            state.observed = optimFile.metadata["react.\(i).observed"] != "0"
            reactivation[i] = state
        }
        step = snapshotStep
    }
}
