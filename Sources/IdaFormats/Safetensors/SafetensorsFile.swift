/// A validated, memory-mapped safetensors file.
///
/// Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON (possibly padded
/// with spaces), then the data section. `init` checks the whole header before returning:
/// every tensor's dtype, shape and byte range, and that the ranges tile the data section.
/// Tensor bytes are read from the mapping only when asked for.
public final class SafetensorsFile: @unchecked Sendable {
    /// Largest header length accepted, in bytes.
    public static let maxHeaderLength = 100_000_000

    /// The path the file was opened with.
    public let path: String
    /// The `__metadata__` entries (empty if the header has none).
    public let metadata: [String: String]
    /// Every tensor, sorted by byte offset.
    public let tensors: [TensorInfo]

    // All stored properties are immutable after init, which is what makes @unchecked Sendable sound.
    private let region: MappedRegion
    private let dataStart: Int
    private let index: [String: Int]

    /// Opens, maps (read-only) and validates the file at `path`.
    public init(path: String) throws {
        let region = try MappedRegion(path: path, minimumSize: 8)
        let bytes = region.bytes
        let headerLength = LittleEndianBytes(raw: bytes).u64(0)
        guard headerLength <= UInt64(Self.maxHeaderLength) else {
            throw SafetensorsError.headerTooLarge(path: path, headerLength: headerLength,
                                                  limit: Self.maxHeaderLength)
        }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw SafetensorsError.headerBeyondFile(path: path, headerLength: headerLength, fileSize: bytes.count)
        }
        let dataStart = 8 + Int(headerLength)
        let header = try Self.parseHeader(UnsafeRawBufferPointer(rebasing: bytes[8..<dataStart]),
                                          path: path, headerOffset: 8, dataSize: bytes.count - dataStart)
        var index: [String: Int] = [:]
        for (position, tensor) in header.tensors.enumerated() {
            index[tensor.name] = position
        }
        self.path = path
        self.region = region
        self.dataStart = dataStart
        self.metadata = header.metadata
        self.tensors = header.tensors
        self.index = index
    }

    /// The tensor named `name`, or nil.
    public func info(_ name: String) -> TensorInfo? {
        index[name].map { tensors[$0] }
    }

    /// Calls `body` with the tensor's raw little-endian bytes. If the bytes are not aligned to
    /// the dtype's size in memory (the data section may start at any offset), they are first
    /// copied to an aligned buffer, so `body` may bind them to the element type. The pointer
    /// is valid only during `body`.
    public func withRawBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let info = try require(name)
        let bytes = rawBytes(info)
        let alignment = info.dtype.byteSize
        guard let base = bytes.baseAddress, Int(bitPattern: base) % alignment != 0 else {
            return try body(bytes)
        }
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: max(alignment, 16))
        defer { copy.deallocate() }
        copy.copyMemory(from: bytes)
        return try body(UnsafeRawBufferPointer(copy))
    }

    /// The tensor named `name`, or a `tensorNotFound` error.
    func require(_ name: String) throws(SafetensorsError) -> TensorInfo {
        guard let info = info(name) else { throw .tensorNotFound(path: path, tensor: name) }
        return info
    }

    /// The tensor's bytes inside the mapping (any alignment; read them with `LittleEndianBytes`).
    func rawBytes(_ info: TensorInfo) -> UnsafeRawBufferPointer {
        let start = dataStart + info.byteRange.lowerBound
        return UnsafeRawBufferPointer(rebasing: region.bytes[start..<start + info.byteRange.count])
    }
}
