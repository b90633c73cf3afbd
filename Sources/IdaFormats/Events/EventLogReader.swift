#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A record of a JSON-lines file: decoded from one line's bytes, nil when the line is not one.
public protocol JSONLine: Sendable {
    /// The record of one line (without its newline), or nil.
    static func decode(line: UnsafeRawBufferPointer) -> Self?
}

/// Follows a JSON-lines event log that another process is appending to.
///
/// Each call to `readNew` returns the records of complete ('\n'-terminated) lines appended
/// since the previous call. A torn last line is held back until its newline arrives. Lines
/// that are not valid JSON (blank lines included) or lack a required field are skipped and
/// counted. A missing file has no events yet; a truncated or replaced file is read from the start.
public struct EventLogReader<Record: JSONLine> {
    /// Default for `maxLineBytes`: 16 MiB.
    public static var defaultMaxLineBytes: Int { 16 << 20 }

    /// The log being followed.
    public let path: String
    /// Complete lines skipped so far because they were not valid event records.
    public private(set) var skippedLines = 0
    /// Longest line kept; a longer line is dropped (and counted as skipped) without buffering it.
    public let maxLineBytes: Int

    private var identity: FileIdentity?
    private var consumed = 0  // file offset just past the last complete line
    private var position = 0  // file offset of the next byte to read
    private var pending: [UInt8] = []  // bytes of a line whose '\n' has not arrived
    private var discarding = false  // inside an over-long line, dropping bytes until '\n'

    /// A reader that has read nothing yet; the file need not exist.
    public init(path: String, maxLineBytes: Int = EventLogReader.defaultMaxLineBytes) {
        self.path = path
        self.maxLineBytes = maxLineBytes
    }

    /// Records from complete lines appended since the last call.
    public mutating func readNew() throws -> [Record] {
        let fd: Int32
        var status = stat()
        do {
            fd = try RegularFile.open(path).descriptor
        } catch {
            switch error {
            case let .unreadable(_, code):
                guard code == ENOENT else { throw EventLogError.io(path: path, operation: "open", errno: code) }
                // Gone for now (the run directory renamed or deleted): keep what was read; the same file
                // back under its name continues where it stopped, another file is read from its start.
                return []
            case let .notRegular(_, kind):
                throw EventLogError.notRegular(path: path, kind: kind)
            }
        }
        defer { close(fd) }
        guard fstat(fd, &status) == 0 else { throw EventLogError.io(path: path, operation: "fstat", errno: errno) }
        let current = FileIdentity(device: UInt64(truncatingIfNeeded: status.st_dev),
                                   inode: UInt64(truncatingIfNeeded: status.st_ino))
        if current != identity || Int(status.st_size) < position || !lineBoundaryIntact(fd) {
            restart(identity: current)
        }
        var records: [Record] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(position)) }
            if count < 0 {
                if errno == EINTR { continue }
                throw EventLogError.io(path: path, operation: "read", errno: errno)
            }
            if count == 0 { break }
            consume(chunk[0..<count], into: &records)
        }
        return records
    }

    /// Forgets everything read so far, to read `identity`'s file from its first byte.
    private mutating func restart(identity: FileIdentity?) {
        self.identity = identity
        consumed = 0
        position = 0
        pending.removeAll()
        discarding = false
    }

    /// A file truncated and refilled past our position is caught by checking that the byte
    /// before `consumed` is still the newline that ended the last line we read.
    private func lineBoundaryIntact(_ fd: Int32) -> Bool {
        guard consumed > 0 else { return true }
        var byte: UInt8 = 0
        return pread(fd, &byte, 1, off_t(consumed - 1)) == 1 && byte == 0x0A
    }

    /// Splits newly read bytes into lines, completing any pending line first.
    private mutating func consume(_ bytes: ArraySlice<UInt8>, into records: inout [Record]) {
        var lineStart = bytes.startIndex
        while let newline = bytes[lineStart...].firstIndex(of: 0x0A) {
            if discarding {
                discarding = false
                skippedLines += 1
            } else if pending.isEmpty {
                handleLine(bytes[lineStart..<newline], into: &records)
            } else {
                pending.append(contentsOf: bytes[lineStart..<newline])
                handleLine(pending[...], into: &records)
                pending.removeAll(keepingCapacity: true)
            }
            consumed = position + (newline + 1 - bytes.startIndex)
            lineStart = newline + 1
        }
        if !discarding {
            pending.append(contentsOf: bytes[lineStart...])
            if pending.count > maxLineBytes {
                pending.removeAll()
                discarding = true
            }
        }
        position += bytes.count
    }

    private mutating func handleLine(_ line: ArraySlice<UInt8>, into records: inout [Record]) {
        guard let record = line.withUnsafeBytes({ Record.decode(line: $0) }) else {
            skippedLines += 1
            return
        }
        records.append(record)
    }
}

/// Which file a path pointed to, to notice when it is replaced (for example by a rename).
private struct FileIdentity: Equatable {
    let device: UInt64
    let inode: UInt64
}
