import Foundation
import IdaRouting
import IdaFormats

/// A live run directory (docs/format.md): manifest, event log, snapshots, probe; written by one
/// writer at a time, which holds the run's lock (`RunLock`, on the directory itself) for its life.
public final class RunDirectory {
    /// The directory.
    public let path: String
    private let lock: RunLock
    private var eventDescriptor: Int32

    /// Where the run's files live.
    public let layout: RunLayout

    /// Opens and locks `path`. `fresh` creates a new run: `path` must not exist yet or be an empty
    /// directory (`NewDirectory`), checked again once the lock is held, so two trainers started into
    /// one empty directory cannot both write. Otherwise `path` must hold a run, whose files left by an
    /// interrupted atomic write (`*.tmp-*`) are removed once the lock is held.
    public init(path: String, fresh: Bool) throws {
        let layout = RunLayout(path)
        if fresh {
            if layout.isRun {
                throw TrainingError.runDirectory(path: path, problem: "already holds a run; use --resume \(path) to continue it or pick another --run-dir")
            }
            try NewDirectory.prepare(path)
        } else if !layout.isRun {
            throw TrainingError.runDirectory(path: path, problem: "is not a run directory (no run.json)")
        }
        let lock = try RunLock(writing: path)
        if fresh {
            let entries = try NewDirectory.entryCount(path)
            guard entries == 0 else { throw NewDirectory.Failure.notEmpty(path: path, entries: entries) }
        } else {
            Self.removeInterruptedWrites(layout)
        }
        try Self.makeFolder(layout.snapshots, run: path)
        // O_NOFOLLOW: a link planted in someone's run cannot send our appends elsewhere.
        var existing = stat()
        if lstat(layout.events, &existing) == 0, existing.st_mode & 0o170000 != 0o100000 {
            throw TrainingError.runDirectory(path: path, problem: "events.jsonl is not a regular file")
        }
        // O_NONBLOCK: a FIFO put there meanwhile fails the open or the check below instead of blocking.
        let events = open(layout.events, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o644)
        guard events >= 0 else {
            let reason = String(cString: strerror(errno))
            throw TrainingError.runDirectory(path: path, problem: "cannot open events.jsonl for appending (\(reason))")
        }
        var status = stat()
        guard fstat(events, &status) == 0, status.st_mode & 0o170000 == 0o100000 else {
            close(events)
            throw TrainingError.runDirectory(path: path, problem: "events.jsonl is not a regular file")
        }
        _ = fcntl(events, F_SETFL, O_APPEND)  // blocking writes from here on
        self.path = path
        self.layout = layout
        self.lock = lock
        self.eventDescriptor = events
        try terminateTornLine()
    }

    deinit {
        close(eventDescriptor)
        lock.release()
    }

    /// Creates folder `folder` of the run, or accepts it when it is a real directory (not a link).
    private static func makeFolder(_ folder: String, run: String) throws {
        if mkdir(folder, 0o755) == 0 { return }
        let code = errno
        var status = stat()
        guard code == EEXIST, lstat(folder, &status) == 0, status.st_mode & 0o170000 == 0o040000 else {
            throw TrainingError.runDirectory(path: run, problem: "\(RunLayout.snapshotsFolder) cannot be created or is not a directory")
        }
    }

    /// Removes the temporary files of atomic writes a killed writer left (`NAME.tmp-PID`, in the run
    /// and in its snapshot folder); only called with the lock held, so no live writer owns them.
    static func removeInterruptedWrites(_ layout: RunLayout) {
        for folder in [layout.directory, layout.snapshots] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            for name in names where AtomicFile.isTemporary(name: name) {
                unlink(RunLayout(folder).path(name))
            }
        }
    }

    /// A killed trainer can leave a last line without its newline; end it so it becomes one skipped line
    /// rather than a prefix glued to the next event.
    private func terminateTornLine() throws {
        guard let (fd, size) = try? RegularFile.open(layout.events), size > 0 else { return }
        defer { close(fd) }
        var last: UInt8 = 0
        if pread(fd, &last, 1, off_t(size - 1)) == 1 && last != 0x0A {
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

    /// Appends one event (docs/format.md, "Events") as one line, with a single write.
    public func append(_ event: RunEvent) throws {
        try appendRaw(try event.line())
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
