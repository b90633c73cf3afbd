import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What one child process produced.
public struct ChildResult: Sendable {
    /// Exit status, or 128 + signal number when the child was killed by a signal.
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// True when the child outlived its time limit and was killed.
    public var timedOut: Bool
    // No peak memory here: wait4's ru_maxrss for a posix_spawn'ed child also counts this process's
    // own peak (RouteMemoryTests.peakOfIdamoe says why and measures it another way).
}

/// Errors from `runChild`.
public enum ChildError: Error, CustomStringConvertible {
    case spawn(String, Int32)
    case pipe(Int32)

    public var description: String {
        switch self {
        case .spawn(let path, let code): return "cannot start \(path): \(String(cString: strerror(code)))"
        case .pipe(let code): return "pipe: \(String(cString: strerror(code)))"
        }
    }
}

private let spawnLock = NSLock()

/// Runs `executable` with `arguments` (standard input /dev/null) and collects both output streams.
/// `environment` adds to (or replaces in) this process's environment; `unsetting` removes variables.
///
/// Written on posix_spawn and a blocking waitpid rather than Foundation's `Process`, whose
/// `waitUntilExit` was seen to hang for ever on Linux when tests start children concurrently.
/// The pipes are close-on-exec, so children started by other tests at the same time do not
/// inherit them. A child still running after `timeout` seconds is killed (SIGKILL) and the result
/// says so; a grandchild that keeps the pipes open cannot stall the caller past the deadline either.
public func runChild(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                     unsetting: [String] = [], timeout: Double = 300) throws -> ChildResult {
    // Pipe creation, close-on-exec and the spawn happen under one lock, so no child started by
    // another test in between can inherit these pipes' write ends.
    spawnLock.lock()
    var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
    guard pipe(&outPipe) == 0 else { spawnLock.unlock(); throw ChildError.pipe(errno) }
    guard pipe(&errPipe) == 0 else {
        close(outPipe[0]); close(outPipe[1])
        spawnLock.unlock()
        throw ChildError.pipe(errno)
    }
    for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
    posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)

    var env = ProcessInfo.processInfo.environment
    for (key, value) in environment { env[key] = value }
    for key in unsetting { env[key] = nil }
    let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        argv.forEach { free($0) }
        envp.forEach { free($0) }
    }
    var pid: pid_t = 0
    let rc = posix_spawnp(&pid, executable, &actions, nil, argv, envp)
    close(outPipe[1]); close(errPipe[1])
    spawnLock.unlock()
    guard rc == 0 else {
        close(outPipe[0]); close(errPipe[0])
        throw ChildError.spawn(executable, rc)
    }

    let deadline = Date().addingTimeInterval(timeout)
    var timedOut = false
    var out = [UInt8](), err = [UInt8]()
    var open: [(fd: Int32, isOut: Bool)] = [(outPipe[0], true), (errPipe[0], false)]
    var buffer = [UInt8](repeating: 0, count: 65536)
    while !open.isEmpty {
        let remaining = deadline.timeIntervalSinceNow
        if remaining <= 0 {
            if !timedOut {
                timedOut = true
                kill(pid, SIGKILL)
            }
            break
        }
        var fds = open.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        let ready = poll(&fds, nfds_t(fds.count), Int32(min(remaining, 1) * 1000))
        if ready < 0 && errno == EINTR { continue }
        if ready <= 0 { continue }
        var closed = [Int32]()
        for item in fds where item.revents != 0 {
            let n = buffer.withUnsafeMutableBytes { read(item.fd, $0.baseAddress, $0.count) }
            if n > 0 {
                let isOut = open.first { $0.fd == item.fd }!.isOut
                if isOut { out += buffer[0..<n] } else { err += buffer[0..<n] }
            } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                closed.append(item.fd)
            }
        }
        for fd in closed { close(fd) }
        open.removeAll { closed.contains($0.fd) }
    }
    for item in open { close(item.fd) }

    var status: Int32 = 0
    while true {
        let w = wait4(pid, &status, timedOut ? 0 : WNOHANG, nil)
        if w == pid || (w < 0 && errno != EINTR) { break }
        if w == 0 {
            // Output closed but the child has not exited yet: wait, within the deadline.
            if Date() >= deadline {
                timedOut = true
                kill(pid, SIGKILL)
                continue
            }
            usleep(2000)
        }
    }
    let signal = status & 0x7f
    let code: Int32 = signal == 0 ? (status >> 8) & 0xff : 128 + signal
    return ChildResult(status: code, stdout: String(decoding: out, as: UTF8.self),
                       stderr: String(decoding: err, as: UTF8.self), timedOut: timedOut)
}

/// Runs `command` with /bin/sh and returns its standard output (standard error is dropped).
@discardableResult
public func shell(_ command: String, timeout: Double = 60) throws -> String {
    try runChild("/bin/sh", ["-c", command], timeout: timeout).stdout
}
