import Foundation
import IdaFormats

/// run.json: what a run is, written when it starts (docs/format.md). `CodingKeys` is the one list of
/// run.json's top-level keys: the lenient reader (`RunDescription`) and the schema (`ContractSchema`)
/// read their names from it.
public struct RunManifest: Codable, Sendable, Equatable {
    /// Manifest format version.
    public var format = 1
    /// The writer when not `idamoe train` (`idamoe_torch 0.1.0`); such runs are read, never resumed.
    public var producer: String?
    /// The model's shape and routers.
    public var model: ModelConfig
    /// Optimisation and data settings.
    public var training: TrainingOptions
    /// Domain names in id order.
    public var domains: [String]
    /// Corpus size in bytes.
    public var corpusBytes: Int
    /// Scalar parameters in the model.
    public var parameters: Int
    /// Tokens in the probe.
    public var probeTokens: Int
    /// When the run started (seconds since the Unix epoch).
    public var created: Double
    /// The run's identity: 32 lowercase hex digits drawn when the run is created, so a follower can tell
    /// a new run put in the same directory from the one it was reading; absent in runs written before it
    /// existed.
    public var runId: String?
    /// Where a captured model came from and how its routers were checked (`capture` runs only).
    public var capture: CaptureInfo?
    /// Where imported routing decisions came from (`python -m idamoe_torch import` runs only).
    public var imported: ImportInfo?
    /// What the training loss is per (`nats/byte` for idamoe train; absent in older runs: nats per byte).
    public var lossUnit: LossUnit? = .natsPerByte

    /// run.json's top-level keys, every one.
    enum CodingKeys: String, CodingKey, CaseIterable {
        case format, producer, model, training, domains, corpusBytes, parameters, probeTokens, created, runId, capture,
             imported, lossUnit
    }

    /// A manifest from its parts.
    public init(format: Int = 1, model: ModelConfig, training: TrainingOptions, domains: [String], corpusBytes: Int,
                parameters: Int, probeTokens: Int, created: Double, runId: String? = RunManifest.newRunId()) {
        self.format = format
        self.model = model
        self.training = training
        self.domains = domains
        self.corpusBytes = corpusBytes
        self.parameters = parameters
        self.probeTokens = probeTokens
        self.created = created
        self.runId = runId
    }

    /// A fresh run id: 128 random bits as 32 lowercase hex digits.
    public static func newRunId() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// JSON text with sorted keys.
    public func encoded() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    /// Reads run.json of `dir`.
    public static func read(_ dir: String) throws -> RunManifest {
        let path = RunLayout(dir).manifest
        guard FileManager.default.fileExists(atPath: path) else {
            throw RunFileError.notARun(path: dir)
        }
        let data: Data
        do {
            data = Data(try SmallFile.read(path))
        } catch {
            throw RunFileError.badManifest(path: path, problem: error.reason)
        }
        // Only runs written by `idamoe train` can be resumed: other producers name themselves.
        if let producer = (try? JSONValue.parse(bytes: Array(data)))?[CodingKeys.producer.stringValue]?.string {
            throw RunFileError.badManifest(path: path, problem: "was written by \(UntrustedText.quoted(producer)), not idamoe train; "
                                           + "only runs written by idamoe train can be resumed")
        }
        let manifest: RunManifest
        do {
            manifest = try JSONDecoder().decode(RunManifest.self, from: data)
        } catch let error as DecodingError {
            throw RunFileError.badManifest(path: path, problem: "is not a valid run manifest (\(Self.describe(error)))")
        } catch {
            throw RunFileError.badManifest(path: path, problem: "is not a valid run manifest")
        }
        // Every value is checked before a model of that shape is built (a hostile run.json is a file
        // error naming the key, not a crash).
        do {
            try manifest.model.validate()
            try manifest.model.validateByteLevel()
            try manifest.training.validate()
            try manifest.model.checkTrainingFits(manifest.training)
        } catch let SettingError.invalidSetting(key, problem) {
            let modelKeys = Set(Mirror(reflecting: ModelConfig()).children.compactMap(\.label))
            let section = modelKeys.contains(key) ? "model" : "training"
            throw RunFileError.badManifest(path: path, problem: "\(section).\(key) \(problem)")
        }
        return manifest
    }

    /// "model.router: unknown value" style text for a decoding error: the field and what is wrong.
    static func describe(_ error: DecodingError) -> String {
        func field(_ path: [CodingKey]) -> String { path.map(\.stringValue).joined(separator: ".") }
        switch error {
        case let .keyNotFound(key, context): return "\(field(context.codingPath + [key])) is missing"
        case let .typeMismatch(_, context), let .valueNotFound(_, context):
            return "\(field(context.codingPath)) has the wrong type"
        case let .dataCorrupted(context):
            let at = field(context.codingPath)
            return at.isEmpty ? "not JSON" : "\(at) has an unknown value"
        @unknown default: return "unreadable"
        }
    }
}
