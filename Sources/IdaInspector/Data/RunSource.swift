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

        /// One line for the user (paths escaped: a directory under ./runs is named by whoever made it).
        public var description: String {
            switch self {
            case let .missing(path): return "\(UntrustedText.shown(path)): no such file or directory"
            case let .noRuns(dir):
                return "no runs under \(UntrustedText.shown(dir)); start one with 'idamoe train' or 'idamoe demo', or name a run directory or checkpoint"
            case let .notARun(path): return "\(UntrustedText.shown(path)): not a run directory (no run.json) nor a checkpoint"
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

/// Follows a run directory: new complete event lines and new complete snapshots since the last
/// poll, whether a writer holds the run's lock, and whether run.json now names another run.
public struct RunFollower {
    /// The run directory.
    public let directory: String
    private var events: EventLogReader<RunEvent>
    private var known: Set<Int> = []
    /// The run followed: read when the follower is made (or at the first poll that can read it).
    public private(set) var identity: RunIdentity?
    /// run.json's file identity and modification time when last read, so an unchanged file is not re-read.
    private var manifestStamp: FileStamp?

    /// A follower that has read nothing yet; it takes the run in run.json now as the one it follows.
    public init(directory: String) {
        self.directory = directory
        self.events = EventLogReader<RunEvent>(path: RunLayout(directory).events)
        self.manifestStamp = FileStamp(path: RunLayout(directory).manifest)
        self.identity = RunIdentity.read(directory: directory)
    }

    /// What changed since the last call. The writer's lock is asked first (a writer that logs `done`
    /// and exits is then seen finished, not stopped); run.json is checked after the log is read, so
    /// lines of a new run read before its run.json was noticed are dropped and read again as its own.
    public mutating func poll() throws -> RunPoll {
        let writer = RunLock.writer(of: directory)
        var records = try events.readNew()
        var fresh = newSnapshots()
        let replacement = checkManifest()
        if replacement != nil {
            // Another run in the same place: start over from its first line and snapshot.
            events = EventLogReader<RunEvent>(path: RunLayout(directory).events)
            known = []
            records = try events.readNew()
            fresh = newSnapshots()
        }
        return RunPoll(events: records, snapshots: fresh, writer: writer, replacement: replacement)
    }

    /// Snapshot steps not reported before, ascending.
    private mutating func newSnapshots() -> [Int] {
        let fresh = RunLayout(directory).snapshotSteps().filter { !known.contains($0) }
        known.formUnion(fresh)
        return fresh
    }

    /// Re-reads run.json when it changed (another file, size or time) and returns its identity if it
    /// names another run than the one followed, which becomes the one followed.
    private mutating func checkManifest() -> RunIdentity? {
        guard let stamp = FileStamp(path: RunLayout(directory).manifest), stamp != manifestStamp else { return nil }
        guard let now = RunIdentity.read(directory: directory) else { return nil }  // mid-write: next poll
        manifestStamp = stamp
        defer { identity = now }
        guard let before = identity else { return nil }
        return now.isAnotherRun(than: before) ? now : nil
    }

    /// What is wrong with the run's files now: the directory gone (deleted or renamed), lines of
    /// events.jsonl that are not events (a torn line a killed trainer left, or garbage), `failure`
    /// (the last poll's error). Paths and errors are escaped (`UntrustedText`).
    public func problems(failure: Error? = nil) -> [RunProblem] {
        var out: [RunProblem] = []
        let shown = UntrustedText.sanitized(directory)
        if !RunLayout(directory).isRun {
            out.append(RunProblem("\(shown) is gone (deleted or renamed); showing what was read before", serious: true))
        } else if let failure {
            out.append(RunProblem("\(shown): " + UntrustedText.sanitized(String(describing: failure)), serious: true))
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

/// Which file a path names and when it last changed: equal stamps mean an unchanged file.
struct FileStamp: Equatable {
    let device: UInt64
    let inode: UInt64
    let size: Int64
    let seconds: Int
    let nanoseconds: Int

    /// The stamp of `path` (following a symbolic link), nil when it cannot be stat'ed.
    init?(path: String) {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        device = UInt64(truncatingIfNeeded: status.st_dev)
        inode = UInt64(truncatingIfNeeded: status.st_ino)
        size = Int64(status.st_size)
        seconds = Int(status.st_mtim.tv_sec)
        nanoseconds = Int(status.st_mtim.tv_nsec)
    }
}
