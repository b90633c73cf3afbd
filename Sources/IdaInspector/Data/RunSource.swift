import Foundation
import IdaRouting
import IdaFormats

/// Where the inspector reads from: a live run directory or a single checkpoint file.
public enum RunSource: Sendable, Equatable {
    /// A run directory (followed live).
    case run(String)
    /// A checkpoint file (static), with the probe to stream through it.
    case checkpoint(String, probe: String?)

    /// Problems resolving the path given on the command line.
    public enum ResolveError: Error, Equatable, CustomStringConvertible {
        /// Nothing exists at the path.
        case missing(String)
        /// No runs under ./runs.
        case noRuns(String)
        /// A directory that is not a run.
        case notARun(String)

        /// One line for the user.
        public var description: String {
            switch self {
            case let .missing(path): return "\(path): no such file or directory"
            case let .noRuns(dir): return "no runs under \(dir); start one with 'idamoe train' or 'idamoe demo', or name a run directory or checkpoint"
            case let .notARun(path): return "\(path): not a run directory (no run.json) nor a checkpoint"
            }
        }
    }

    /// Resolves `path`: a run directory, a checkpoint, or (nil) the newest run under `runsRoot`.
    public static func resolve(_ path: String?, probe: String? = nil, runsRoot: String = "runs") throws -> RunSource {
        let fm = FileManager.default
        guard let path else {
            let names = (try? fm.contentsOfDirectory(atPath: runsRoot)) ?? []
            let runs = names.map { RunLayout(runsRoot + "/" + $0) }.filter(\.isRun)
            let newest = runs.max { modified($0.manifest) < modified($1.manifest) }?.directory
            guard let newest else { throw ResolveError.noRuns(runsRoot) }
            return .run(newest)
        }
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else { throw ResolveError.missing(path) }
        if isDirectory.boolValue {
            guard RunLayout(path).isRun else { throw ResolveError.notARun(path) }
            return .run(path)
        }
        return .checkpoint(path, probe: probe)
    }

    static func modified(_ path: String) -> Date {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date) ?? .distantPast
    }
}

/// Follows a run directory: new complete event lines and new complete snapshots since the last poll.
public struct RunFollower {
    /// The run directory.
    public let directory: String
    private var events: EventLogReader
    private var known: Set<Int> = []

    /// A follower that has read nothing yet.
    public init(directory: String) {
        self.directory = directory
        self.events = EventLogReader(path: RunLayout(directory).events)
    }

    /// Event lines completed and snapshot steps that appeared since the last call (ascending).
    public mutating func poll() throws -> (events: [EventRecord], snapshots: [Int]) {
        let records = try events.readNew()
        let fresh = RunLayout(directory).snapshotSteps().filter { !known.contains($0) }
        known.formUnion(fresh)
        return (records, fresh)
    }

    /// What is wrong with the run's files now: the directory gone (deleted or renamed), lines of
    /// events.jsonl that are not events (a torn line a killed trainer left, or garbage), `failure`
    /// (the last poll's error).
    public func problems(failure: Error? = nil) -> [RunProblem] {
        var out: [RunProblem] = []
        if !RunLayout(directory).isRun {
            out.append(RunProblem("\(directory) is gone (deleted or renamed); showing what was read before", serious: true))
        } else if let failure {
            out.append(RunProblem("\(directory): \(failure)", serious: true))
        }
        let skipped = events.skippedLines
        if skipped > 0 {
            out.append(RunProblem("events.jsonl: skipped \(skipped) line\(skipped == 1 ? "" : "s") that \(skipped == 1 ? "is" : "are") "
                                  + "not an event (torn by a killed trainer, or damaged)", serious: false))
        }
        return out
    }

    /// The model file of a snapshot step.
    public func checkpointPath(step: Int) -> String {
        RunLayout(directory).snapshot(step: step)
    }

    /// The probe (with hidden states) of a snapshot step.
    public func probePath(step: Int) -> String {
        RunLayout(directory).probe(step: step)
    }
}
