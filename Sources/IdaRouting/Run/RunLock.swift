import Foundation
import IdaBLAS
import IdaSystem

/// The one writer of a run, enforced by the kernel (docs/format.md, "One writer"): the writer holds
/// `flock(LOCK_EX)` on a descriptor of the run directory itself for its whole life. Deleting or
/// replacing a file cannot bypass it, and the kernel releases it when the writer exits or dies, so
/// nothing stale is left behind. Readers ask it whether a run is live (`writer(of:)`).
///
/// The Python package's `RunWriter` takes the same lock (python/idamoe_torch/run_lock.py).
public final class RunLock: @unchecked Sendable {
    /// The locked directory.
    public let directory: String
    // The descriptor holding the lock, -1 once released; touched only by init, release and deinit.
    private var descriptor: Int32

    /// How long a writer waits for a lock held by someone else before refusing: a reader's liveness
    /// probe holds it for microseconds, and a child forked by another thread of this process holds a
    /// copy of the descriptor until it calls exec. A writer holds it for as long as it runs.
    public static let patience = 2.0

    /// Takes the writer's lock on `directory`, waiting up to `patience` seconds for transient holders.
    public init(writing directory: String, patience: Double = RunLock.patience) throws(RunFileError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotLock(path: directory, errno: errno) }
        let deadline = monotonicSeconds() + patience
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            guard code == EWOULDBLOCK || code == EINTR, monotonicSeconds() < deadline else {
                close(fd)
                if code == EWOULDBLOCK { throw .writerActive(path: directory) }
                throw .cannotLock(path: directory, errno: code)
            }
            usleep(10_000)
        }
        self.directory = directory
        self.descriptor = fd
    }

    /// Releases the lock (also done when the object goes, or by the kernel when the process ends).
    public func release() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }

    /// Whether a writer holds a run's lock.
    public enum Writer: Sendable, Equatable {
        /// A writer holds the lock: the run is live.
        case live
        /// Nobody holds it: the run is finished or its writer stopped.
        case none
        /// The directory cannot be asked (gone, or not readable by us).
        case unknown
    }

    /// Asks the lock of `directory` without disturbing a writer: a shared lock taken and dropped at
    /// once succeeds exactly when no writer holds the exclusive one.
    public static func writer(of directory: String) -> Writer {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return .unknown }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 { return .none }
        return errno == EWOULDBLOCK ? .live : .unknown
    }

}
