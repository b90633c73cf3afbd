/// Why a safetensors file could not be read or written. Every case carries the file's path
/// (or `SafetensorsWriter.unsavedPath` for a tensor rejected before any file is named);
/// offsets are byte offsets, in the file for header problems and in the data section for tensors.
public enum SafetensorsError: Error, CustomStringConvertible, Equatable {
    /// A system call failed; `operation` names it ("open", "mmap", "write", ...).
    case io(path: String, operation: String, errno: Int32)
    /// The path is a directory, device or other non-regular file.
    case notRegularFile(path: String)
    /// The file cannot even hold the 8-byte header length.
    case fileTooShort(path: String, size: Int)
    /// The declared header length is above the 100,000,000-byte limit.
    case headerTooLarge(path: String, headerLength: UInt64, limit: Int)
    /// The declared header length runs past the end of the file.
    case headerBeyondFile(path: String, headerLength: UInt64, fileSize: Int)
    /// The header is not valid UTF-8 JSON; `offset` is in the file.
    case invalidHeaderJSON(path: String, offset: Int, reason: String)
    /// The header is valid JSON but not an object.
    case headerNotObject(path: String, found: String)
    /// `__metadata__` is not an object of strings; `key` is the offending entry, if any.
    case invalidMetadata(path: String, key: String?, reason: String)
    /// A tensor entry lacks or mistypes "dtype", "shape" or "data_offsets".
    case invalidTensorEntry(path: String, tensor: String, reason: String)
    /// The dtype string is not one of `DType`.
    case unknownDType(path: String, tensor: String, dtype: String)
    /// A shape entry is negative or not an integer; `found` is its JSON text.
    case invalidShape(path: String, tensor: String, dimension: Int, found: String)
    /// The shape's byte count does not fit in `Int`.
    case shapeOverflow(path: String, tensor: String, dtype: DType, shape: [Int])
    /// The shape and dtype need `expectedBytes`, the tensor has `foundBytes`.
    case sizeMismatch(path: String, tensor: String, dtype: DType, shape: [Int], expectedBytes: Int, foundBytes: Int)
    /// A value count does not match the shape (typed `SafetensorsWriter.add` calls).
    case elementCountMismatch(path: String, tensor: String, shape: [Int], expected: Int, found: Int)
    /// data_offsets has begin > end.
    case offsetsReversed(path: String, tensor: String, begin: Int, end: Int)
    /// data_offsets ends past the data section.
    case offsetsBeyondData(path: String, tensor: String, begin: Int, end: Int, dataSize: Int)
    /// Two tensors share bytes; `second` starts at `offset`, inside `first`.
    case overlappingTensors(path: String, first: String, second: String, offset: Int)
    /// Bytes `begin..<end` belong to no tensor; `after` is the tensor before the gap (nil at the start).
    case gapBetweenTensors(path: String, after: String?, begin: Int, end: Int)
    /// Bytes after the last tensor, up to the end of the file.
    case trailingBytes(path: String, after: String?, begin: Int, end: Int)
    /// The same tensor name appears twice.
    case duplicateTensor(path: String, tensor: String)
    /// A tensor may not be named `__metadata__`.
    case reservedName(path: String, tensor: String)
    /// No tensor of that name.
    case tensorNotFound(path: String, tensor: String)
    /// The accessor does not handle the tensor's dtype; `expected` lists those it does.
    case dtypeMismatch(path: String, tensor: String, found: DType, expected: [DType])
    /// An I64 element does not fit in `Int32`.
    case valueOutOfRange(path: String, tensor: String, index: Int, value: Int64)
    /// `floatRows` asked for rows outside `0..<shape[0]` (or the tensor is a scalar).
    case rowsOutOfRange(path: String, tensor: String, rows: Range<Int>, shape: [Int])

    /// The file the error is about.
    public var path: String {
        switch self {
        case .io(let path, _, _), .notRegularFile(let path), .fileTooShort(let path, _),
             .headerTooLarge(let path, _, _), .headerBeyondFile(let path, _, _),
             .invalidHeaderJSON(let path, _, _), .headerNotObject(let path, _),
             .invalidMetadata(let path, _, _), .invalidTensorEntry(let path, _, _),
             .unknownDType(let path, _, _), .invalidShape(let path, _, _, _),
             .shapeOverflow(let path, _, _, _), .sizeMismatch(let path, _, _, _, _, _),
             .elementCountMismatch(let path, _, _, _, _), .offsetsReversed(let path, _, _, _),
             .offsetsBeyondData(let path, _, _, _, _), .overlappingTensors(let path, _, _, _),
             .gapBetweenTensors(let path, _, _, _), .trailingBytes(let path, _, _, _),
             .duplicateTensor(let path, _), .reservedName(let path, _), .tensorNotFound(let path, _),
             .dtypeMismatch(let path, _, _, _), .valueOutOfRange(let path, _, _, _),
             .rowsOutOfRange(let path, _, _, _):
            return path
        }
    }

    /// One line: the path, then what is wrong and where.
    public var description: String {
        ErrorText.clipped(path) + ": " + problem
    }
}
