import Foundation

/// Buffered writes to standard output in large chunks (JSON lines can be many megabytes).
struct OutputBuffer {
    private var bytes: [UInt8] = []
    private let limit = 1 << 20

    init() { bytes.reserveCapacity(limit + 4096) }

    /// Appends text, flushing when the buffer is full.
    mutating func write(_ text: String) {
        bytes.append(contentsOf: text.utf8)
        if bytes.count >= limit { flush() }
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
