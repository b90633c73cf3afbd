import Foundation
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
            let runs = names.map { runsRoot + "/" + $0 }.filter { fm.fileExists(atPath: $0 + "/run.json") }
            let newest = runs.max { modified($0 + "/run.json") < modified($1 + "/run.json") }
            guard let newest else { throw ResolveError.noRuns(runsRoot) }
            return .run(newest)
        }
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else { throw ResolveError.missing(path) }
        if isDirectory.boolValue {
            guard fm.fileExists(atPath: path + "/run.json") else { throw ResolveError.notARun(path) }
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
        self.events = EventLogReader(path: directory + "/events.jsonl")
    }

    /// Event lines completed and snapshot steps that appeared since the last call (ascending).
    public mutating func poll() throws -> (events: [EventRecord], snapshots: [Int]) {
        let records = try events.readNew()
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory + "/snapshots")) ?? []
        var fresh: [Int] = []
        for name in names where name.hasPrefix("step-") && name.hasSuffix(".safetensors")
            && !name.contains(".optim.") && !name.contains(".probe.") {
            let digits = name.dropFirst(5).dropLast(".safetensors".count)
            if digits.count == 8, let step = Int(digits), !known.contains(step) {
                known.insert(step)
                fresh.append(step)
            }
        }
        return (records, fresh.sorted())
    }

    /// The model file of a snapshot step.
    public func checkpointPath(step: Int) -> String {
        directory + "/snapshots/" + String(format: "step-%08d.safetensors", step)
    }

    /// The probe (with hidden states) of a snapshot step.
    public func probePath(step: Int) -> String {
        directory + "/snapshots/" + String(format: "step-%08d.probe.safetensors", step)
    }
}
