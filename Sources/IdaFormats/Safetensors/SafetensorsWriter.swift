/// Builds a safetensors file in memory and writes it atomically.
///
/// Tensors are laid out contiguously in the order added. The header JSON is padded with
/// spaces so that the data section starts at a multiple of 8 bytes; `__metadata__` comes first
/// when non-empty (keys sorted, so output is deterministic).
public struct SafetensorsWriter {
    /// The path carried by errors from `add`, before the file has a name.
    public static let unsavedPath = "<unsaved safetensors>"

    /// String metadata stored under `__metadata__`.
    public var metadata: [String: String] = [:]

    private var entries: [Entry] = []
    private var names: Set<String> = []

    private struct Entry {
        let name: String
        let dtype: DType
        let shape: [Int]
        /// The bytes, or nil when `chunks` produces them while the file is written.
        let bytes: [UInt8]?
        let byteCount: Int
        let chunks: (() -> [UInt8]?)?
    }

    /// An empty writer.
    public init() {}

    /// Adds a tensor from its raw little-endian bytes; the byte count must match dtype and shape.
    public mutating func add(_ name: String, dtype: DType, shape: [Int], bytes: [UInt8]) throws {
        let path = Self.unsavedPath
        guard name != "__metadata__" else { throw SafetensorsError.reservedName(path: path, tensor: name) }
        guard !names.contains(name) else { throw SafetensorsError.duplicateTensor(path: path, tensor: name) }
        let expected = try Self.checkedByteCount(name, dtype: dtype, shape: shape)
        guard bytes.count == expected else {
            throw SafetensorsError.sizeMismatch(path: path, tensor: name, dtype: dtype, shape: shape,
                                                expectedBytes: expected, foundBytes: bytes.count)
        }
        entries.append(Entry(name: name, dtype: dtype, shape: shape, bytes: bytes, byteCount: bytes.count, chunks: nil))
        names.insert(name)
    }

    /// Adds a tensor whose little-endian bytes `chunks` produces piece by piece while the file is
    /// written (nil when done), so a tensor larger than memory can be written; writing fails, leaving
    /// no file, unless the pieces add up to exactly dtype and shape's byte count.
    public mutating func add(_ name: String, dtype: DType, shape: [Int], chunks: @escaping () -> [UInt8]?) throws {
        let path = Self.unsavedPath
        guard name != "__metadata__" else { throw SafetensorsError.reservedName(path: path, tensor: name) }
        guard !names.contains(name) else { throw SafetensorsError.duplicateTensor(path: path, tensor: name) }
        let expected = try Self.checkedByteCount(name, dtype: dtype, shape: shape)
        entries.append(Entry(name: name, dtype: dtype, shape: shape, bytes: nil, byteCount: expected, chunks: chunks))
        names.insert(name)
    }

    /// The whole file: header length, padded header, data.
    public func serialized() throws -> [UInt8] {
        var out: [UInt8] = []
        try emit(path: Self.unsavedPath) { out.append(contentsOf: $0) }
        return out
    }

    /// Writes the file to `path` atomically: the bytes go to `path + ".tmp-<pid>"`, which is
    /// fsynced and renamed over `path`; a failure removes the temporary and leaves `path` untouched.
    public func write(to path: String) throws {
        try AtomicFile.write(to: path) { (write: ([UInt8]) throws(SafetensorsError) -> Void) throws(SafetensorsError) in
            try emit(path: path, write)
        }
    }

    /// Hands the header (with its length prefix) and then each tensor's bytes to `write`, in order,
    /// without concatenating them; streamed tensors are checked to fill their declared size.
    private func emit(path: String, _ write: ([UInt8]) throws(SafetensorsError) -> Void) throws(SafetensorsError) {
        for chunk in try header(path: path) { try write(chunk) }
        for entry in entries {
            if let bytes = entry.bytes {
                try write(bytes)
                continue
            }
            var written = 0
            while let piece = entry.chunks?() {
                written += piece.count
                guard written <= entry.byteCount else { break }
                try write(piece)
            }
            guard written == entry.byteCount else {
                throw .sizeMismatch(path: path, tensor: entry.name, dtype: entry.dtype, shape: entry.shape,
                                    expectedBytes: entry.byteCount, foundBytes: written)
            }
        }
    }

    /// The length prefix and the padded header.
    private func header(path: String) throws(SafetensorsError) -> [[UInt8]] {
        var header = "{"
        var members: [String] = []
        if !metadata.isEmpty {
            members.append("\"__metadata__\":" + JSONValue.object(metadata.mapValues(JSONValue.string)).serialized())
        }
        var offset = 0
        for entry in entries {
            let shape = entry.shape.map(String.init).joined(separator: ",")
            let end = offset + entry.byteCount
            members.append(JSONValue.quoted(entry.name) + ":{\"dtype\":\"\(entry.dtype.rawValue)\","
                           + "\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        header += members.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        // Pad with spaces (valid JSON whitespace) so that 8 + N is a multiple of 8.
        headerBytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - headerBytes.count % 8) % 8))
        guard headerBytes.count <= SafetensorsFile.maxHeaderLength else {
            throw .headerTooLarge(path: path, headerLength: UInt64(headerBytes.count),
                                  limit: SafetensorsFile.maxHeaderLength)
        }
        return [LittleEndianEncoder.bytes(of: UInt64(headerBytes.count)), headerBytes]
    }

    /// The byte count for `shape` and `dtype`, after checking the shape is valid.
    static func checkedByteCount(_ name: String, dtype: DType, shape: [Int]) throws(SafetensorsError) -> Int {
        if let position = shape.firstIndex(where: { $0 < 0 }) {
            throw .invalidShape(path: unsavedPath, tensor: name, dimension: position, found: String(shape[position]))
        }
        guard let bytes = dtype.byteCount(shape: shape) else {
            throw .shapeOverflow(path: unsavedPath, tensor: name, dtype: dtype, shape: shape)
        }
        return bytes
    }
}
