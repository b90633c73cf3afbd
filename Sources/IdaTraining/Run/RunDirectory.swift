import Foundation
import IdaRouting
import IdaFormats

/// A live run directory (docs/format.md): manifest, event log, snapshots, probe; held under a lock
/// so that a second trainer cannot write into it at the same time.
public final class RunDirectory {
    /// The directory.
    public let path: String
    private let lockDescriptor: Int32
    private var eventDescriptor: Int32

    /// Where the run's files live.
    public let layout: RunLayout

    /// Opens (creating when needed) and locks `path`. `fresh` demands a directory without a run in it.
    public init(path: String, fresh: Bool) throws {
        let fm = FileManager.default
        let layout = RunLayout(path)
        if fresh, layout.isRun {
            throw TrainingError.runDirectory(path: path, problem: "already holds a run; use --resume \(path) to continue it or pick another --run-dir")
        }
        if !fresh, !layout.isRun {
            throw TrainingError.runDirectory(path: path, problem: "is not a run directory (no run.json)")
        }
        do {
            try fm.createDirectory(atPath: layout.snapshots, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.runDirectory(path: path, problem: "cannot be created: \(error.localizedDescription)")
        }
        let fd = open(layout.lock, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TrainingError.runDirectory(path: path, problem: "cannot open its lock file") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw TrainingError.runDirectory(path: path, problem: "another trainer is writing this run (lock held); stop it first")
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { write(fd, $0, strlen($0)) }
        let events = open(layout.events, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard events >= 0 else {
            close(fd)
            throw TrainingError.runDirectory(path: path, problem: "cannot open events.jsonl for appending")
        }
        self.path = path
        self.layout = layout
        self.lockDescriptor = fd
        self.eventDescriptor = events
        try terminateTornLine()
    }

    deinit {
        close(eventDescriptor)
        close(lockDescriptor)  // releases the lock
    }

    /// A killed trainer can leave a last line without its newline; end it so it becomes one skipped line
    /// rather than a prefix glued to the next event.
    private func terminateTornLine() throws {
        guard let handle = FileHandle(forReadingAtPath: layout.events) else { return }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        guard size > 0 else { return }
        try? handle.seek(toOffset: size - 1)
        if let last = try? handle.read(upToCount: 1), last.first != 0x0A {
            try appendRaw("\n")
        }
    }

    /// Appends `text` (one or more whole lines); a short write is continued, so a failure reports the
    /// reason (EFBIG past `ulimit -f`, ENOSPC, EIO) and leaves at most one torn line, which the next
    /// resume terminates.
    private func appendRaw(_ text: String) throws {
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { raw in write(eventDescriptor, raw.baseAddress.map { $0 + done }, bytes.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let reason = n < 0 ? String(cString: strerror(errno)) : "nothing written"
                throw TrainingError.runDirectory(path: path, problem: "cannot append to events.jsonl (\(reason)); "
                                                 + "free space or fix permissions, then resume with --resume")
            }
            done += n
        }
    }

    /// Appends one event line `{"v": 1, "step", "time", "kind", ...fields}` with a single write.
    public func appendEvent(step: Int, kind: String, fields: [String: JSONValue] = [:]) throws {
        var object = fields
        object["v"] = .number(1)
        object["step"] = .number(Double(step))
        object["time"] = .number((Date().timeIntervalSince1970 * 1000).rounded() / 1000)
        object["kind"] = .string(kind)
        try appendRaw(JSONValue.object(object).serialized() + "\n")
    }

    /// Writes run.json atomically.
    public func writeManifest(_ text: String) throws {
        do {
            try RunLayout.publish(Array(text.utf8), at: layout.manifest)
        } catch {
            throw TrainingError.runDirectory(path: path, problem: "cannot write run.json: \(error)")
        }
    }

    /// Steps of snapshots whose model and optimizer files both exist and open as valid safetensors, newest first.
    public func completeSnapshotSteps() -> [Int] {
        layout.snapshotSteps().reversed().filter { step in
            (try? SafetensorsFile(path: layout.snapshot(step: step))) != nil
                && (try? SafetensorsFile(path: layout.optimizer(step: step))) != nil
        }
    }
}
