import Foundation
import IdaFormats
import SystemPackage

/// Where every file of a run directory lives (docs/format.md, "Run directories"): the one definition
/// every writer (the trainer, the Python package's peers, benchmarks) and reader (the inspector,
/// `idamoe diff`, `RUN@STEP`) goes through.
///
/// ```
/// RUN/run.json                                 manifest, written once when the run starts
/// RUN/events.jsonl                             one JSON event per line, appended
/// RUN/probe.safetensors                        the probe's tokens, domains and documents
/// RUN/snapshots/step-00000200.safetensors      the model (routers included); complete once it exists
/// RUN/snapshots/step-00000200.probe.safetensors the probe's router inputs at that step
/// RUN/snapshots/step-00000200.optim.safetensors optimizer state (newest snapshot only)
/// ```
/// Every file is published atomically (written under a temporary name, renamed into place); the
/// model file is renamed last, so a snapshot whose model file exists is complete. The writer holds
/// the run's lock on the directory itself (`RunLock`). Paths are joined as `FilePath` components,
/// never by string concatenation.
public struct RunLayout: Sendable, Equatable {
    /// The run directory, as named.
    public let directory: String
    /// The run directory as a path to join file names to.
    public let root: FilePath

    /// The layout of `directory`.
    public init(_ directory: String) {
        self.directory = directory
        self.root = FilePath(directory)
    }

    /// `names` joined to the run directory.
    public func path(_ names: String...) -> String {
        root.appending(names.map { FilePath.Component(stringLiteral: $0) }).string
    }

    /// run.json.
    public var manifest: String { path(Self.manifestName) }
    /// events.jsonl.
    public var events: String { path("events.jsonl") }
    /// The run's probe (tokens, domains, documents; no hidden states).
    public var probe: String { path("probe.safetensors") }
    /// The snapshot folder.
    public var snapshots: String { path(Self.snapshotsFolder) }
    /// The model file of `step`.
    public func snapshot(step: Int) -> String { path(Self.snapshotsFolder, Self.stepName(step) + ".safetensors") }
    /// The probe (router inputs at that step) of `step`.
    public func probe(step: Int) -> String { path(Self.snapshotsFolder, Self.stepName(step) + ".probe.safetensors") }
    /// The optimizer state of `step`.
    public func optimizer(step: Int) -> String { path(Self.snapshotsFolder, Self.stepName(step) + ".optim.safetensors") }

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

    /// The run in `directory`'s subfolder `name` (a folder listing's entry: one component, never a
    /// path of its own; nil for "", ".", ".." or a name with a slash).
    public static func child(_ name: String, of directory: String) -> RunLayout? {
        guard let component = FilePath.Component(name), component.kind == .regular else { return nil }
        return RunLayout(FilePath(directory).appending(component).string)
    }

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
