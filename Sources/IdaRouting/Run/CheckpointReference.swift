import Foundation
import IdaFormats

/// One side of a comparison as named on the command line, resolved to a checkpoint file: a checkpoint,
/// a run directory (its newest snapshot) or `RUN@STEP` (that step's snapshot), with the run it belongs to
/// and the snapshot probe next to it (docs/format.md, run directories).
public struct CheckpointReference: Sendable, Equatable {
    /// The text as given.
    public var spec: String
    /// The checkpoint file.
    public var path: String
    /// The run directory the checkpoint belongs to (canonical path), when it is a run's snapshot.
    public var runDirectory: String?
    /// The snapshot step from the file name `step-XXXXXXXX.safetensors`, when it has one.
    public var step: Int?
    /// `step-XXXXXXXX.probe.safetensors` next to the checkpoint, when it exists: the router inputs
    /// the model produced for the run's probe at that step.
    public var snapshotProbe: String?

    /// A reference from its parts.
    public init(spec: String, path: String, runDirectory: String?, step: Int?, snapshotProbe: String?) {
        self.spec = spec
        self.path = path
        self.runDirectory = runDirectory
        self.step = step
        self.snapshotProbe = snapshotProbe
    }

    /// Resolves `spec`: an existing file is a checkpoint (part of a run when it sits in `RUN/snapshots/`);
    /// an existing directory is a run, meaning its newest snapshot; otherwise `RUN@STEP` picks a step.
    public static func resolve(_ spec: String) throws(ReferenceError) -> CheckpointReference {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: spec, isDirectory: &isDirectory) {
            if !isDirectory.boolValue { return file(spec, spec: spec) }
            try requireRun(spec)
            guard let newest = RunLayout(spec).snapshotSteps().last else { throw .noSnapshots(run: spec) }
            return file(RunLayout(spec).snapshot(step: newest), spec: spec)
        }
        guard let at = spec.lastIndex(of: "@") else { throw .missingPath(spec) }
        let run = String(spec[..<at])
        let stepText = spec[spec.index(after: at)...]
        guard fm.fileExists(atPath: run, isDirectory: &isDirectory) else { throw .missingPath(run) }
        guard isDirectory.boolValue else { throw .stepOfFile(spec: spec, file: run) }
        try requireRun(run)
        guard !stepText.isEmpty, stepText.allSatisfy(\.isASCII), stepText.allSatisfy(\.isNumber),
              let step = Int(stepText) else { throw .badStep(spec: spec) }
        let steps = RunLayout(run).snapshotSteps()
        guard steps.contains(step) else { throw .missingStep(run: run, step: step, available: steps) }
        return file(RunLayout(run).snapshot(step: step), spec: spec)
    }

    /// The canonical form of `path` (symbolic links and `..` resolved), or `path` when it cannot be resolved.
    public static func canonical(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func requireRun(_ dir: String) throws(ReferenceError) {
        let fm = FileManager.default
        let layout = RunLayout(dir)
        guard layout.isRun || fm.fileExists(atPath: layout.snapshots) else {
            throw .notARun(dir)
        }
    }

    /// A checkpoint file, with its run (the grandparent of a `snapshots` folder) and sibling probe.
    private static func file(_ path: String, spec: String) -> CheckpointReference {
        let resolved = canonical(path)
        let step = RunLayout.snapshotStep(fileName: URL(fileURLWithPath: resolved).lastPathComponent)
        return CheckpointReference(spec: spec, path: path, runDirectory: RunLayout.run(containing: resolved), step: step,
                                   snapshotProbe: RunLayout.probeBeside(checkpoint: path))
    }
}
