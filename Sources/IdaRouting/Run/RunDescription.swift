import Foundation
import IdaFormats

/// run.json as any producer writes it (the Swift trainer, `RunWriter`, `capture`, `import`), read leniently: the
/// readers' view derived from `RunManifest` and the settings tables. Every setting present and of the
/// right type is taken; an absent one means what it means in `RunManifest` (nil for a setting newer
/// than the run, else the default); a damaged field is as if absent. `present` says which were given.
public struct RunDescription: Sendable, Equatable {
    /// The writer when not `idamoe train` (`idamoe_torch 0.1.0`).
    public var producer: String?
    /// The run's identity (32 hex digits), absent in runs before it existed.
    public var runId: String?
    /// When the run started (seconds since the Unix epoch).
    public var created: Double?
    /// Domain names in id order.
    public var domains: [String]
    /// A capture's origin and checks, when the run is a capture.
    public var capture: CaptureInfo?
    /// Where imported routing decisions came from, when the run is an import.
    public var imported: ImportInfo?
    /// What the loss is per (absent or unknown: nats per byte, as every run before the field).
    public var lossUnit: LossUnit
    /// The model settings.
    public var model: ModelConfig
    /// The training settings.
    public var training: TrainingOptions
    /// Keys present in `model` and `training`.
    public var modelKeys: Set<String>, trainingKeys: Set<String>

    /// The description of run.json's bytes, nil when they are not a JSON object.
    public init?(json bytes: [UInt8]) {
        guard let json = try? JSONValue.parse(bytes: bytes), json.object != nil else { return nil }
        /// A top-level value, by `RunManifest`'s key.
        func field(_ key: RunManifest.CodingKeys) -> JSONValue? { json[key.stringValue] }
        /// A top-level record, nil when absent or damaged.
        func record<T: Decodable>(_ key: RunManifest.CodingKeys, _: T.Type) -> T? {
            field(key).flatMap { try? JSONDecoder().decode(T.self, from: Data($0.serialized().utf8)) }
        }
        producer = field(.producer)?.string
        runId = field(.runId)?.string
        created = field(.created)?.double
        domains = field(.domains)?.array?.compactMap(\.string) ?? []
        lossUnit = field(.lossUnit)?.string.flatMap(LossUnit.init(rawValue:)) ?? .natsPerByte
        capture = record(.capture, CaptureInfo.self)
        imported = record(.imported, ImportInfo.self)
        func section<R: Sendable & Codable>(_ key: RunManifest.CodingKeys, _ rows: [AnySetting<R>], _ base: R) -> (R, Set<String>) {
            let decoder = JSONDecoder()
            decoder.userInfo[.settingRows] = rows
            decoder.userInfo[.settingBase] = base
            guard let object = field(key), object.object != nil,
                  let s = try? decoder.decode(LenientSettings<R>.self, from: Data(object.serialized().utf8)) else {
                var root = base
                for row in rows { row.setAbsent(in: &root) }
                return (root, [])
            }
            return (s.root, s.present)
        }
        (model, modelKeys) = section(.model, ModelConfig.settings, ModelConfig())
        (training, trainingKeys) = section(.training, TrainingOptions.settings, TrainingOptions())
    }

    /// The description of `directory`'s run.json, nil when it cannot be read or is not a JSON object.
    public static func read(directory: String) -> RunDescription? {
        guard let bytes = try? SmallFile.read(RunLayout(directory).manifest) else { return nil }
        return RunDescription(json: bytes)
    }
}
