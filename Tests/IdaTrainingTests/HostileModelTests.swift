import Foundation
import IdaFormats
import IdaNumerics
import IdaRouting
import IdaTestSupport
import IdaTraining
import Testing

/// Sizes from a snapshot's `idamoe.model` or a run's run.json are checked before a model is built
/// (docs/reliability.md, "Bounded models").
@Suite("Hostile model sizes")
struct HostileModelTests {
    /// A finished tiny run's directory (trained once for the suite).
    static let run: String? = {
        let dir = temporaryDirectory()
        guard let corpus = try? writeCorpus(in: dir),
              let trainer = try? Trainer(config: tinyTrainingConfig(), options: tinyOptions(corpus: corpus, steps: 3), runDir: dir + "/run"),
              (try? trainer.train()) != nil else { return nil }
        return dir + "/run"
    }()

    /// The run's step-3 snapshot rewritten with `idamoe.model` edited by `edit` (JSON object keys).
    func snapshot(editing edit: [String: Int]) throws -> String {
        let run = try #require(Self.run)
        let file = try SafetensorsFile(path: RunLayout(run).snapshot(step: 3))
        let json = try #require(file.metadata["idamoe.model"])
        var model = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        for (k, v) in edit { model[k] = v }
        var writer = SafetensorsWriter()
        writer.metadata = file.metadata
        writer.metadata["idamoe.model"] = String(decoding: try JSONSerialization.data(withJSONObject: model), as: UTF8.self)
        for t in file.tensors { try writer.add(t.name, shape: t.shape, floats: try file.floats(t.name)) }
        let path = temporaryDirectory() + "/snapshot.safetensors"
        try writer.write(to: path)
        return path
    }

    @Test("vocab 2^40 or -1, blocks 10^8, a 2^20 context: refused with one line before anything is allocated",
          arguments: [
              (["vocab": 1 << 40] as [String: Int], "vocab must be 1...2097152"),
              (["vocab": -1], "vocab must be 1...2097152"),
              (["vocab": 16], "vocab must be at least 256"),
              (["blocks": 100_000_000], "blocks must be 1...4096"),
              (["context": 1 << 20], "context must be 2...65536"),
              (["blocks": 4000], "weights; the file holds"),
              (["width": 4096, "heads": 1], "weights; the file holds"),
          ])
    func snapshotModel(edit: [String: Int], needle: String) throws {
        let path = try snapshot(editing: edit)
        let started = Date()
        do {
            _ = try SnapshotModel(path: path)
            Issue.record("a snapshot with \(edit) was loaded")
        } catch {
            let text = String(describing: error)
            #expect(text.contains(needle), "\(text)")
            #expect(!text.contains("\n"))
        }
        #expect(Date().timeIntervalSince(started) < 10, "refused before building")
    }

    @Test("the unedited snapshot still loads")
    func untouched() throws {
        #expect(try SnapshotModel(path: snapshot(editing: [:])).model.config == tinyTrainingConfig())
    }

    @Test("run.json with hostile sizes: resume refuses naming the file and the key; the run is untouched",
          arguments: [("model", "vocab", -1), ("model", "blocks", 100_000_000), ("training", "batch", 1_000_000_000_000),
                      ("model", "width", 1 << 40), ("training", "threads", 100_000)])
    func manifest(section: String, key: String, value: Int) throws {
        let source = try #require(Self.run)
        let run = temporaryDirectory() + "/copy"
        try FileManager.default.copyItem(atPath: source, toPath: run)
        let path = RunLayout(run).manifest
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        var inner = try #require(json[section] as? [String: Any])
        inner[key] = value
        json[section] = inner
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        let before = try String(contentsOfFile: RunLayout(run).events, encoding: .utf8)
        do {
            _ = try Trainer(resuming: run, steps: 6)
            Issue.record("resumed a run whose run.json has \(section).\(key) = \(value)")
        } catch {
            let text = String(describing: error)
            #expect(text.hasPrefix(path + ": \(section).\(key) must be"), "\(text)")
        }
        #expect(try String(contentsOfFile: RunLayout(run).events, encoding: .utf8) == before)
    }

    @Test("a training step too large for this machine is refused by the memory estimate, not by the allocator")
    func memoryEstimate() throws {
        var config = tinyTrainingConfig()
        config.context = 65_536
        var options = TrainingOptions()
        options.batch = 1024
        #expect(config.trainingBytes(batch: options.batch, workers: 2).map { $0 > SizeLimits.physicalMemory } ?? true)
        #expect(throws: SettingError.self) { try config.checkTrainingFits(options) }
        // The defaults fit in well under a gigabyte by the same estimate.
        let defaults = ModelConfig()
        let bytes = try #require(defaults.trainingBytes(batch: TrainingOptions().batch, workers: 2))
        #expect(bytes > 50 << 20 && bytes < 1 << 30, "\(bytes)")
        // Overflow is nil, never a wrapped small number.
        var huge = ModelConfig()
        huge.vocab = SizeLimits.vocab
        huge.width = SizeLimits.width
        huge.context = SizeLimits.context
        huge.heads = SizeLimits.width
        huge.blocks = SizeLimits.blocks
        #expect(huge.trainingBytes(batch: SizeLimits.batch, workers: SizeLimits.threads) == nil)
    }

    @Test("the weights' lower bound never exceeds what a model of that shape holds")
    func lowerBound() throws {
        for router in [RouterKind.ida, .softmax] {
            for kind in [ExpertMLP.Kind.gelu, .swiglu] {
                var c = tinyTrainingConfig(router: router)
                c.expertKind = kind
                c.moeEvery = 2
                let model = try MoETransformer(config: c, seed: 1)
                let bound = try #require(c.weightsLowerBound)
                #expect(bound <= model.parameterCount && bound * 2 >= model.parameterCount, "\(bound) vs \(model.parameterCount)")
            }
        }
    }
}
