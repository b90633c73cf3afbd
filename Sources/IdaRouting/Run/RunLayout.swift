import Foundation
import IdaFormats

/// Where every file of a run directory lives (docs/format.md, "Run directories"): the one definition
/// every writer (the trainer, the Python package's peers, benchmarks) and reader (the inspector,
/// `idamoe diff`, `RUN@STEP`) goes through.
///
/// ```
/// RUN/run.json                                 manifest, written once when the run starts
/// RUN/events.jsonl                             one JSON event per line, appended
/// RUN/lock                                     held by the writing trainer (flock)
/// RUN/probe.safetensors                        the probe's tokens, domains and documents
/// RUN/snapshots/step-00000200.safetensors      the model (routers included); complete once it exists
/// RUN/snapshots/step-00000200.probe.safetensors the probe's router inputs at that step
/// RUN/snapshots/step-00000200.optim.safetensors optimizer state (newest snapshot only)
/// ```
/// Every file is published atomically (written under a temporary name, renamed into place); the
/// model file is renamed last, so a snapshot whose model file exists is complete.
public struct RunLayout: Sendable, Equatable {
    /// The run directory.
    public let directory: String

    /// The layout of `directory`.
    public init(_ directory: String) { self.directory = directory }

    /// run.json.
    public var manifest: String { directory + "/" + Self.manifestName }
    /// events.jsonl.
    public var events: String { directory + "/events.jsonl" }
    /// The lock file a writing trainer holds.
    public var lock: String { directory + "/lock" }
    /// The run's probe (tokens, domains, documents; no hidden states).
    public var probe: String { directory + "/probe.safetensors" }
    /// The snapshot folder.
    public var snapshots: String { directory + "/" + Self.snapshotsFolder }
    /// The model file of `step`.
    public func snapshot(step: Int) -> String { directory + "/" + Self.relativeSnapshot(step: step) }
    /// The probe (router inputs at that step) of `step`.
    public func probe(step: Int) -> String { directory + "/" + Self.relativeProbe(step: step) }
    /// The optimizer state of `step`.
    public func optimizer(step: Int) -> String { snapshots + "/" + Self.stepName(step) + ".optim.safetensors" }

    /// The manifest's file name.
    public static let manifestName = "run.json"
    /// The snapshot folder's name.
    public static let snapshotsFolder = "snapshots"

    /// "step-00000200": the stem of every file of a snapshot.
    public static func stepName(_ step: Int) -> String { String(format: "step-%08d", step) }
    /// "snapshots/step-00000200.safetensors", as snapshot events name it.
    public static func relativeSnapshot(step: Int) -> String { "\(snapshotsFolder)/\(stepName(step)).safetensors" }
    /// "snapshots/step-00000200.probe.safetensors", as snapshot events name it.
    public static func relativeProbe(step: Int) -> String { "\(snapshotsFolder)/\(stepName(step)).probe.safetensors" }

    /// Whether the directory holds a run (its manifest exists).
    public var isRun: Bool { FileManager.default.fileExists(atPath: manifest) }

    /// Steps whose model file exists under its final name, ascending (a snapshot is complete once its
    /// model file exists; probe, optimizer and temporary files are not snapshots).
    public func snapshotSteps() -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: snapshots)) ?? []
        return names.compactMap(Self.snapshotStep(fileName:)).sorted()
    }

    /// The step of a model file name "step-XXXXXXXX.safetensors" (eight digits), nil for any other name.
    public static func snapshotStep(fileName name: String) -> Int? {
        guard name.hasPrefix("step-"), name.hasSuffix(".safetensors") else { return nil }
        let digits = name.dropFirst("step-".count).dropLast(".safetensors".count)
        guard digits.count == 8, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    /// The probe beside a checkpoint file (`X.safetensors` -> `X.probe.safetensors`) when it exists:
    /// the router inputs the model produced for its run's probe at that step.
    public static func probeBeside(checkpoint path: String) -> String? {
        guard path.hasSuffix(".safetensors"), !path.hasSuffix(".probe.safetensors") else { return nil }
        let sibling = String(path.dropLast(".safetensors".count)) + ".probe.safetensors"
        return FileManager.default.fileExists(atPath: sibling) ? sibling : nil
    }

    /// The run a checkpoint belongs to: the parent of its `snapshots` folder, nil for a loose file.
    public static func run(containing checkpoint: String) -> String? {
        let folder = URL(fileURLWithPath: checkpoint).deletingLastPathComponent()
        return folder.lastPathComponent == snapshotsFolder ? folder.deletingLastPathComponent().path : nil
    }

    /// Publishes `bytes` at `path` atomically (temporary name, fsync, rename).
    public static func publish(_ bytes: [UInt8], at path: String) throws(SafetensorsError) {
        try AtomicFile.write([bytes], to: path)
    }
}
