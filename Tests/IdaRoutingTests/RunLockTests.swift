import Foundation
import IdaRouting
import IdaTestSupport
import Testing

/// One writer per run, enforced by the kernel on the directory itself (docs/format.md, "One writer").
@Suite("Run lock")
struct RunLockTests {
    @Test("a second writer is refused; deleting files cannot bypass the lock; releasing lets the next in")
    func oneWriter() throws {
        let dir = temporaryDirectory()
        try Data("{}".utf8).write(to: URL(fileURLWithPath: dir + "/lock"))  // a stale file of an older version
        let first = try RunLock(writing: dir)
        #expect(RunLock.writer(of: dir) == .live)
        #expect(throws: RunFileError.writerActive(path: dir)) { _ = try RunLock(writing: dir, patience: 0.05) }
        // Whatever is deleted inside the run, the lock is on the directory.
        for name in try FileManager.default.contentsOfDirectory(atPath: dir) { unlink(dir + "/" + name) }
        #expect(throws: RunFileError.writerActive(path: dir)) { _ = try RunLock(writing: dir, patience: 0.05) }
        first.release()
        first.release()  // harmless twice
        #expect(RunLock.writer(of: dir) == .none)
        let second = try RunLock(writing: dir, patience: 0)
        #expect(RunLock.writer(of: dir) == .live)
        second.release()
    }

    @Test("a reader's probe does not refuse a writer starting at that moment")
    func probesDoNotRefuseWriters() throws {
        let dir = temporaryDirectory()
        let stop = Atomicish()
        let prober = Thread {
            while !stop.isSet { _ = RunLock.writer(of: dir) }
        }
        prober.start()
        defer { stop.set() }
        for _ in 0..<50 {
            let lock = try RunLock(writing: dir)
            lock.release()
        }
    }

    @Test("the kernel releases the lock of a writer killed with SIGKILL; a gone directory is unknown")
    func killedWriter() throws {
        let dir = temporaryDirectory()
        // flock(1) holds an exclusive flock on the directory, as a writer does, until killed (-o: its
        // command does not inherit the descriptor); in a process group of its own, so both go.
        var pid: pid_t = 0
        let words: [String] = ["/usr/bin/flock", "-o", "-x", dir, "/bin/sleep", "600"]
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        defer { kill(-pid, SIGKILL) }
        guard posix_spawn(&pid, "/usr/bin/flock", nil, &attributes, argv, environ) == 0 else {
            Issue.record("flock(1) could not be started")
            return
        }
        var waited = 0
        while RunLock.writer(of: dir) != .live && waited < 500 { usleep(10_000); waited += 1 }
        #expect(RunLock.writer(of: dir) == .live)
        #expect(throws: RunFileError.writerActive(path: dir)) { _ = try RunLock(writing: dir, patience: 0.05) }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        #expect(RunLock.writer(of: dir) == .none)
        #expect(RunLock.writer(of: dir + "/missing") == .unknown)
    }
}

/// A flag set once from one thread and read from another.
private final class Atomicish: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}
