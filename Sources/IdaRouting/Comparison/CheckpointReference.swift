import Foundation

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
    public static func resolve(_ spec: String) throws(ComparisonError) -> CheckpointReference {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: spec, isDirectory: &isDirectory) {
            if !isDirectory.boolValue { return file(spec, spec: spec) }
            try requireRun(spec)
            guard let newest = snapshotSteps(run: spec).last else { throw .noSnapshots(run: spec) }
            return file(snapshotPath(run: spec, step: newest), spec: spec)
        }
        guard let at = spec.lastIndex(of: "@") else { throw .missingPath(spec) }
        let run = String(spec[..<at])
        let stepText = spec[spec.index(after: at)...]
        guard fm.fileExists(atPath: run, isDirectory: &isDirectory), isDirectory.boolValue else { throw .missingPath(run) }
        try requireRun(run)
        guard !stepText.isEmpty, stepText.allSatisfy(\.isASCII), stepText.allSatisfy(\.isNumber),
              let step = Int(stepText) else { throw .badStep(spec: spec) }
        let steps = snapshotSteps(run: run)
        guard steps.contains(step) else { throw .missingStep(run: run, step: step, available: steps) }
        return file(snapshotPath(run: run, step: step), spec: spec)
    }

    /// Steps with a model snapshot in `run`/snapshots, ascending. A model file under its final name means
    /// the snapshot is complete (the trainer renames it into place last); probe and optimizer files and
    /// temporary names are not snapshots.
    public static func snapshotSteps(run: String) -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: run + "/snapshots")) ?? []
        var steps: [Int] = []
        for name in names where name.hasPrefix("step-") && name.hasSuffix(".safetensors")
            && !name.contains(".probe.") && !name.contains(".optim.") {
            let digits = name.dropFirst("step-".count).dropLast(".safetensors".count)
            if digits.count == 8, digits.allSatisfy(\.isNumber), let step = Int(digits) { steps.append(step) }
        }
        return steps.sorted()
    }

    /// The model file of a step.
    public static func snapshotPath(run: String, step: Int) -> String {
        run + "/snapshots/" + String(format: "step-%08d.safetensors", step)
    }

    /// The canonical form of `path` (symbolic links and `..` resolved), or `path` when it cannot be resolved.
    public static func canonical(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func requireRun(_ dir: String) throws(ComparisonError) {
        let fm = FileManager.default
        guard fm.fileExists(atPath: dir + "/run.json") || fm.fileExists(atPath: dir + "/snapshots") else {
            throw .notARun(dir)
        }
    }

    /// A checkpoint file, with its run (the grandparent of a `snapshots` folder) and sibling probe.
    private static func file(_ path: String, spec: String) -> CheckpointReference {
        let url = URL(fileURLWithPath: canonical(path))
        let folder = url.deletingLastPathComponent()
        let run = folder.lastPathComponent == "snapshots" ? folder.deletingLastPathComponent().path : nil
        let name = url.lastPathComponent
        var step: Int? = nil
        if name.hasPrefix("step-"), name.hasSuffix(".safetensors") {
            let digits = name.dropFirst("step-".count).dropLast(".safetensors".count)
            if digits.count == 8, digits.allSatisfy(\.isNumber) { step = Int(digits) }
        }
        var probe: String? = nil
        if path.hasSuffix(".safetensors"), !path.hasSuffix(".probe.safetensors") {
            let sibling = String(path.dropLast(".safetensors".count)) + ".probe.safetensors"
            if FileManager.default.fileExists(atPath: sibling) { probe = sibling }
        }
        return CheckpointReference(spec: spec, path: path, runDirectory: run, step: step, snapshotProbe: probe)
    }
}
