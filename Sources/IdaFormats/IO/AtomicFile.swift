#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Replaces a file atomically: readers see either the old file or the complete new one.
public enum AtomicFile {
    /// Writes `chunks` to `path + ".tmp-<pid>"`, fsyncs it, renames it over `path`, then
    /// fsyncs the directory (best effort). On any failure the temporary file is removed.
    public static func write(_ chunks: [[UInt8]], to path: String) throws(SafetensorsError) {
        try write(to: path) { (write: ([UInt8]) throws(SafetensorsError) -> Void) throws(SafetensorsError) in
            for chunk in chunks { try write(chunk) }
        }
    }

    /// Like `write(_:to:)` with the bytes handed over piece by piece by `body` (each piece written at
    /// once, so the whole file never needs to be in memory); if `body` throws, `path` is untouched.
    public static func write(to path: String,
                             _ body: (_ write: ([UInt8]) throws(SafetensorsError) -> Void) throws(SafetensorsError) -> Void)
        throws(SafetensorsError) {
        let temporary = "\(path)\(temporaryMark)\(getpid())"
        // A leftover of an earlier process with our pid goes first; O_EXCL then never follows a link.
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(path: path, operation: "create \(temporary)", errno: errno) }
        var renamed = false
        defer { if !renamed { unlink(temporary) } }
        do {
            defer { close(fd) }
            try body { chunk throws(SafetensorsError) in try writeAll(chunk, to: fd, path: path) }
            guard fsync(fd) == 0 else { throw SafetensorsError.io(path: path, operation: "fsync", errno: errno) }
        }
        guard rename(temporary, path) == 0 else {
            throw .io(path: path, operation: "rename from \(temporary)", errno: errno)
        }
        renamed = true
        syncDirectory(containing: path)
    }

    /// What a temporary file's name carries between the final name and the writer's pid.
    public static let temporaryMark = ".tmp-"

    /// Whether `name` is a temporary file of an atomic write (`NAME.tmp-PID`).
    public static func isTemporary(name: String) -> Bool {
        guard let range = name.range(of: temporaryMark, options: .backwards) else { return false }
        let pid = name[range.upperBound...]
        return !pid.isEmpty && pid.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// Writes every byte, retrying after interrupts and short writes.
    private static func writeAll(_ bytes: [UInt8], to fd: Int32, path: String) throws(SafetensorsError) {
        let failure: Int32? = bytes.withUnsafeBytes { raw in
            var written = 0
            while written < raw.count {
                guard let base = raw.baseAddress else { return nil }
                let result = systemWrite(fd, base + written, raw.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                written += result
            }
            return nil
        }
        if let failure { throw .io(path: path, operation: "write", errno: failure) }
    }

    /// Makes the rename durable; failures are ignored because the data itself is already safe.
    private static func syncDirectory(containing path: String) {
        let directory: String
        if let slash = path.lastIndex(of: "/") {
            directory = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            directory = "."
        }
        let fd = open(directory, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}

/// The C `write`, named apart from Swift's `write` methods.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
