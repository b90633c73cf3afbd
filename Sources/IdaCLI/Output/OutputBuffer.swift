import Foundation

/// Buffered writes to standard output in large chunks (JSON lines can be many megabytes).
/// A buffer that is never flushed (`flushes` false) serves as a plain byte builder for one block.
struct OutputBuffer: Sendable {
    private var bytes: [UInt8] = []
    private let limit: Int
    private let flushes: Bool

    /// A buffer that writes to standard output whenever it holds a megabyte.
    init() {
        limit = 1 << 20
        flushes = true
        bytes.reserveCapacity(limit + 4096)
    }

    /// A builder that only collects bytes (never writes), pre-sized for about `capacity` bytes.
    init(capacity: Int) {
        limit = Int.max
        flushes = false
        bytes.reserveCapacity(capacity)
    }

    /// Appends text (a builder never fails; a flushing buffer may, when it writes).
    mutating func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// Appends another buffer's bytes, writing to standard output once a megabyte is held.
    mutating func append(_ other: OutputBuffer) throws(StandardOutput.Failure) {
        bytes.append(contentsOf: other.bytes)
        if flushes && bytes.count >= limit { try flush() }
    }

    /// Appends a number in shortest round-trip form, or `null` when it is not finite.
    mutating func write(number value: Double) {
        write(value.isFinite ? value.description : "null")
    }

    /// Appends a Float in shortest round-trip form, or `null` when it is not finite.
    mutating func write(number value: Float) {
        write(value.isFinite ? value.description : "null")
    }

    /// Writes everything buffered to standard output (bytes this program formatted: numbers and
    /// fixed keys, nothing from a file), checked (`StandardOutput`).
    mutating func flush() throws(StandardOutput.Failure) {
        guard !bytes.isEmpty else { return }
        let failure: StandardOutput.Failure? = bytes.withUnsafeBytes { raw -> StandardOutput.Failure? in
            do {
                try StandardOutput.write(bytes: raw)
                return nil
            } catch let failure as StandardOutput.Failure {
                return failure
            } catch {
                return .failed(errno: EIO)
            }
        }
        bytes.removeAll(keepingCapacity: true)
        if let failure { throw failure }
    }
}
