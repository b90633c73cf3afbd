#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading a small text file (run.json, a seed) whole, with a size limit, through POSIX calls:
/// a hostile file cannot make us allocate more than `limit` bytes. (Foundation's
/// `FileManager.contents(atPath:)` also leaks a 4 KiB buffer on an empty file, found by fuzzing.)
public enum SmallFile {
    /// Problems reading a small file.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// open(2) or read(2) failed.
        case unreadable(path: String, errno: Int32)
        /// The file is larger than the limit.
        case tooLarge(path: String, limit: Int)
        /// The path names a FIFO, device, socket or directory (`kind` says which).
        case notRegular(path: String, kind: String)

        /// What went wrong, without the path.
        public var reason: String {
            switch self {
            case let .unreadable(_, code): return "cannot be read (\(String(cString: strerror(code))))"
            case let .tooLarge(_, limit): return "larger than \(limit) bytes"
            case let .notRegular(_, kind): return "is \(kind), not a regular file"
            }
        }

        /// One line for the user.
        public var description: String {
            switch self {
            case let .unreadable(path, _), let .tooLarge(path, _), let .notRegular(path, _):
                return UntrustedText.shown(path) + ": " + reason
            }
        }
    }

    /// The bytes of `path`, at most `limit` of them (default 16 MiB).
    public static func read(_ path: String, limit: Int = 16 << 20) throws(Failure) -> [UInt8] {
        let fd: Int32
        do {
            fd = try RegularFile.open(path).descriptor
        } catch {
            switch error {
            case let .unreadable(_, code): throw .unreadable(path: path, errno: code)
            case let .notRegular(_, kind): throw .notRegular(path: path, kind: kind)
            }
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .unreadable(path: path, errno: errno)
            }
            if n == 0 { return bytes }
            guard bytes.count + n <= limit else { throw .tooLarge(path: path, limit: limit) }
            bytes += chunk[0..<n]
        }
    }
}
