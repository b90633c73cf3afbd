import Foundation
import IdaFormats
import IdaNumerics
import IdaRouting

extension MoETransformer {
    /// Replaces every parameter with the tensor of the same name in `file` (shapes must match).
    public mutating func loadParameters(from file: SafetensorsFile) throws {
        var failure: Error?
        visitParameters { name, shape, value, _ in
            guard failure == nil else { return }
            guard let info = file.info(name), info.shape == shape else {
                failure = TrainingError.runDirectory(
                    path: file.path, problem: "tensor \(name) is missing or is not \(shape) as the model needs")
                return
            }
            do {
                let loaded = try file.floats(name)
                if let bad = loaded.firstIndex(where: { !$0.isFinite }) {
                    failure = TrainingError.runDirectory(path: file.path, problem: "tensor \(name) element \(bad) is not finite")
                    return
                }
                value = loaded
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
    }

    /// Router inputs (the FFN input of every MoE block) for `tokens`, [N, D] each, flattened; the
    /// text is cut into windows of T tokens (the last one shorter), each starting a fresh context,
    /// as the probe's hidden states are.
    public func routerInputs(windowed tokens: [Int32], context: NumericContext = .serial) -> [Int: [Float]] {
        let t = config.context
        var out: [Int: [Float]] = [:]
        var start = 0
        while start < tokens.count {
            let full = (tokens.count - start) / t
            let (batch, time) = full > 0 ? (min(full, 16), t) : (1, tokens.count - start)
            let range = start..<(start + batch * time)
            for (i, h) in routerInputs(tokens: Array(tokens[range]), batch: batch, time: time, context: context) {
                out[i, default: []] += h.data
            }
            start = range.upperBound
        }
        return out
    }
}

/// A model read back from a snapshot that carries `idamoe.model` metadata and every weight, for
/// running new text through it (the inspector's live text).
public struct SnapshotModel: Sendable {
    /// The model.
    public let model: MoETransformer

    /// Loads the model of snapshot file `path`; a router-only checkpoint is refused with a hint.
    public init(path: String) throws {
        let file = try SafetensorsFile(path: path)
        guard let json = file.metadata["idamoe.model"] else {
            throw TrainingError.routersOnly(path: path)
        }
        let config: ModelConfig
        do {
            config = try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8))
        } catch {
            throw TrainingError.runDirectory(path: path, problem: "idamoe.model metadata is not a model configuration")
        }
        try Self.check(config, against: file)
        var model = try MoETransformer(config: config, seed: 0)
        try model.loadParameters(from: file)
        self.model = model
    }

    /// Refuses a configuration read from `file` before a model of that shape is allocated: every size
    /// within its limit, the file holding at least the weights the shape needs (so the allocation is
    /// bounded by bytes that exist), and the live-text pass within this machine's memory.
    static func check(_ config: ModelConfig, against file: SafetensorsFile) throws {
        do {
            try config.validate()
            try config.validateByteLevel()
        } catch let SettingError.invalidSetting(key, problem) {
            throw TrainingError.runDirectory(path: file.path, problem: "idamoe.model: \(key) \(problem)")
        }
        let held = SizeLimits.sum(file.tensors.map { SizeLimits.product($0.shape) }) ?? .max
        guard let needed = config.weightsLowerBound, needed <= held else {
            throw TrainingError.runDirectory(path: file.path, problem: "idamoe.model describes a model of at least "
                + (config.weightsLowerBound.map { "\($0)" } ?? "more than 2^63") + " weights; the file holds \(held) values")
        }
        do {
            try ModelConfig.checkFits(config.inferenceBytes, what: "a model", key: "idamoe.model", hint: "its live text cannot run here")
        } catch let SettingError.invalidSetting(_, problem) {
            throw TrainingError.runDirectory(path: file.path, problem: "idamoe.model " + problem)
        }
    }

    /// Writes `tokens` (bytes) and their router inputs at every MoE block as a probe file (docs/format.md).
    public func writeProbe(tokens: [Int32], to path: String) throws {
        guard !tokens.isEmpty else { throw TrainingError.invalidOption("no text to route") }
        let hidden = model.routerInputs(windowed: tokens)
        let width = model.config.width
        try ProbeContents(tokens: tokens, hidden: hidden.mapValues { Matrix(rows: tokens.count, cols: width, data: $0) })
            .write(to: path)
    }
}
