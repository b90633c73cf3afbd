/// A one-dimensional I32, I64, U8 or BOOL tensor of a mapped file, read element by element as
/// `Int32` (the same values as `SafetensorsFile.int32s`). It holds no copy, so a reader's memory does
/// not grow with the tensor's length; the pages it touches can be released again
/// (`SafetensorsFile.releaseRows`).
public struct MappedIntegers: RandomAccessCollection, Sendable {
    /// The file the values are read from.
    public let file: SafetensorsFile
    /// The tensor's name.
    public let name: String
    private let info: TensorInfo
    public let count: Int

    /// The tensor `name` of `file`, which must be one-dimensional and integral; I64 values outside
    /// `Int32` are an error, found by one pass whose pages are released afterwards.
    public init(file: SafetensorsFile, name: String) throws {
        let info = try file.require(name)
        guard DType.integral.contains(info.dtype) else {
            throw SafetensorsError.dtypeMismatch(path: file.path, tensor: name, found: info.dtype, expected: DType.integral)
        }
        self.file = file
        self.name = name
        self.info = info
        self.count = info.elementCount
        if info.dtype == .i64 {
            let bytes = LittleEndianBytes(raw: file.rawBytes(info))
            for index in 0..<count {
                let value = Int64(bitPattern: bytes.u64(8 * index))
                guard Int32(exactly: value) != nil else {
                    throw SafetensorsError.valueOutOfRange(path: file.path, tensor: name, index: index, value: value)
                }
            }
            file.releaseRows(name, rows: 0..<count)
        }
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(position: Int) -> Int32 {
        precondition(position >= 0 && position < count, "\(name): index \(position) outside 0..<\(count)")
        let bytes = LittleEndianBytes(raw: file.rawBytes(info))
        switch info.dtype {
        case .i32: return Int32(bitPattern: bytes.u32(4 * position))
        case .u8: return Int32(bytes.raw[position])
        case .bool: return bytes.raw[position] == 0 ? 0 : 1
        default: return Int32(truncatingIfNeeded: Int64(bitPattern: bytes.u64(8 * position)))
        }
    }
}
