/// Why a checkpoint named on the command line (a file, a run directory or `RUN@STEP`) could not be
/// resolved; one line each, naming the path or the step.
public enum ReferenceError: Error, Equatable, CustomStringConvertible {
    /// Nothing exists at the path given.
    case missingPath(String)
    /// A directory that holds no run (no run.json and no snapshots folder).
    case notARun(String)
    /// A run directory without any complete snapshot.
    case noSnapshots(run: String)
    /// `RUN@STEP` named a step the run has no snapshot of.
    case missingStep(run: String, step: Int, available: [Int])
    /// `RUN@STEP` whose step is not a non-negative integer.
    case badStep(spec: String)
    /// `FILE@STEP`: a step picked from a file, which holds one snapshot.
    case stepOfFile(spec: String, file: String)

    /// One line for the user.
    public var description: String {
        switch self {
        case let .missingPath(path):
            return "\(path): no such file or directory"
        case let .notARun(path):
            return "\(path): a directory that is not a run (no run.json, no snapshots/)"
        case let .noSnapshots(run):
            return "\(run): no complete snapshot yet (snapshots/step-XXXXXXXX.safetensors)"
        case let .missingStep(run, step, available):
            let names = available.map(String.init)
            let shown = names.count > 12 ? names.prefix(5) + ["…"] + names.suffix(5) : names[...]
            let list = names.isEmpty ? "none" : shown.joined(separator: ", ")
            return "\(run): no snapshot of step \(step) (steps with snapshots: \(list))"
        case let .stepOfFile(spec, file):
            return "\(spec): @STEP picks a snapshot of a run directory, and \(file) is a file (one snapshot); name the file alone, or RUN@STEP"
        case let .badStep(spec):
            return "\(spec): the part after @ must be a step number, e.g. runs/x@200"
        }
    }
}
