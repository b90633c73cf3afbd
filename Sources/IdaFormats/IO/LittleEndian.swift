/// Explicitly little-endian loads at any alignment from a byte buffer (safetensors is little-endian).
struct LittleEndianBytes {
    /// The bytes being read.
    let raw: UnsafeRawBufferPointer

    /// The 16-bit value at byte `offset`.
    @inline(__always)
    func u16(_ offset: Int) -> UInt16 {
        UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// The 32-bit value at byte `offset`.
    @inline(__always)
    func u32(_ offset: Int) -> UInt32 {
        UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// The 64-bit value at byte `offset`.
    @inline(__always)
    func u64(_ offset: Int) -> UInt64 {
        UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}

/// Little-endian encoding of fixed-width values into fresh byte arrays.
enum LittleEndianEncoder {
    /// `values` as consecutive little-endian `T`s, each produced by `bits`.
    static func encode<Value, T: FixedWidthInteger>(_ values: [Value], as _: T.Type,
                                                     _ bits: (Value) -> T) -> [UInt8] {
        let width = MemoryLayout<T>.size
        return [UInt8](unsafeUninitializedCapacity: values.count * width) { buffer, count in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            for (index, value) in values.enumerated() {
                raw.storeBytes(of: bits(value).littleEndian, toByteOffset: index * width, as: T.self)
            }
            count = values.count * width
        }
    }

    /// `value` as 8 little-endian bytes.
    static func bytes(of value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
    }
}
