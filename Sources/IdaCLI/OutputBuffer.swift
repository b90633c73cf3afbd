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

    /// Appends text, flushing when the buffer is full.
    mutating func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes.append(contentsOf: $0) }
        if flushes && bytes.count >= limit { flush() }
    }

    /// Appends another buffer's bytes.
    mutating func append(_ other: OutputBuffer) {
        bytes.append(contentsOf: other.bytes)
        if flushes && bytes.count >= limit { flush() }
    }

    /// Appends a number in shortest round-trip form, or `null` when it is not finite.
    mutating func write(number value: Double) {
        write(value.isFinite ? value.description : "null")
    }

    /// Appends a Float in shortest round-trip form, or `null` when it is not finite.
    mutating func write(number value: Float) {
        write(value.isFinite ? value.description : "null")
    }

    /// Writes everything buffered to standard output.
    mutating func flush() {
        guard !bytes.isEmpty else { return }
        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let n = Foundation.write(1, base + offset, buffer.count - offset)
                if n <= 0 { break }  // closed pipe: stop writing rather than spin
                offset += n
            }
        }
        bytes.removeAll(keepingCapacity: true)
    }
}
