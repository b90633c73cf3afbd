#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Opening a file a user named for reading, refusing anything that is not a regular file before a
/// byte is read: a FIFO, a device or a socket named as a checkpoint, probe, run.json or event log
/// would otherwise make a read wait forever (docs/reliability.md, "Special files").
public enum RegularFile {
    /// Why a file could not be opened as a regular file.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// open(2) or fstat(2) failed with `errno`.
        case unreadable(path: String, errno: Int32)
        /// The path names a FIFO, device, socket or directory (`kind` says which).
        case notRegular(path: String, kind: String)

        /// The path the failure is about.
        public var path: String {
            switch self {
            case let .unreadable(path, _), let .notRegular(path, _): return path
            }
        }

        /// One line for the user.
        public var description: String {
            switch self {
            case let .unreadable(path, code): return "\(UntrustedText.shown(path)): cannot be read (\(ErrorText.systemMessage(code)))"
            case let .notRegular(path, kind): return "\(UntrustedText.shown(path)): is \(kind), not a regular file"
            }
        }
    }

    /// Opens `path` read-only without blocking (a FIFO with no writer cannot hold up open(2)), checks
    /// with fstat(2) that it is a regular file, and returns the descriptor in blocking mode with the
    /// file's size. The caller closes the descriptor.
    public static func open(_ path: String) throws(Failure) -> (descriptor: Int32, size: Int) {
        let fd = systemOpen(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { throw .unreadable(path: path, errno: errno) }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            let code = errno
            close(fd)
            throw .unreadable(path: path, errno: code)
        }
        guard status.st_mode & fileTypeMask == regularType else {
            close(fd)
            throw .notRegular(path: path, kind: kind(ofMode: status.st_mode))
        }
        // Regular files never block; clear the flag so reads behave as ordinary reads.
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
        return (fd, Int(status.st_size))
    }

    /// Whether `path` names a regular file (following symbolic links), without opening it.
    public static func isRegular(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && status.st_mode & fileTypeMask == regularType
    }

    // S_IFMT and the S_IF* values (POSIX; the macros do not import into Swift).
    static let fileTypeMask: mode_t = 0o170000
    static let regularType: mode_t = 0o100000

    /// "a FIFO", "a directory", ... for `st_mode`.
    static func kind(ofMode mode: mode_t) -> String {
        switch mode & fileTypeMask {
        case 0o100000: return "a regular file"
        case 0o010000: return "a FIFO"
        case 0o020000: return "a character device"
        case 0o040000: return "a directory"
        case 0o060000: return "a block device"
        case 0o120000: return "a symbolic link"
        case 0o140000: return "a socket"
        default: return "of an unknown kind"
        }
    }
}

/// The C `open`, named apart from `RegularFile.open`.
private func systemOpen(_ path: String, _ flags: Int32) -> Int32 {
    open(path, flags)
}
