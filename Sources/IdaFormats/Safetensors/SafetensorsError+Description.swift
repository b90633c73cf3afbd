extension SafetensorsError {
    /// The message after the path, built only from clipped, escaped text.
    var problem: String {
        switch self {
        case .io(_, let operation, let code):
            return "\(operation) failed: \(ErrorText.systemMessage(code)) (errno \(code))"
        case .notRegularFile:
            return "not a regular file"
        case .fileTooShort(_, let size):
            return "file is \(size) bytes, too short for the 8-byte header length"
        case .headerTooLarge(_, let length, let limit):
            return "header length \(length) exceeds the limit of \(limit) bytes"
        case .headerBeyondFile(_, let length, let size):
            return "header length \(length) runs past the end of the \(size)-byte file"
        case .invalidHeaderJSON(_, let offset, let reason):
            return "invalid header JSON at byte \(offset): \(reason)"
        case .headerNotObject(_, let found):
            return "header is \(found), expected a JSON object"
        case .invalidMetadata(_, let key, let reason):
            let entry = key.map { " entry \(ErrorText.quoted($0))" } ?? ""
            return "__metadata__\(entry): \(reason)"
        case .invalidTensorEntry(_, let tensor, let reason):
            return "tensor \(ErrorText.quoted(tensor)): \(reason)"
        case .unknownDType(_, let tensor, let dtype):
            let known = DType.allCases.map(\.rawValue).joined(separator: ", ")
            return "tensor \(ErrorText.quoted(tensor)): unknown dtype \(ErrorText.quoted(dtype)) (known: \(known))"
        case .invalidShape(_, let tensor, let dimension, let found):
            return "tensor \(ErrorText.quoted(tensor)): shape[\(dimension)] is \(ErrorText.clipped(found)), "
                + "expected a non-negative integer"
        case .shapeOverflow(_, let tensor, let dtype, let shape):
            return "tensor \(ErrorText.quoted(tensor)): \(dtype.rawValue) shape \(shape) is too large to address"
        case .sizeMismatch(_, let tensor, let dtype, let shape, let expected, let found):
            return "tensor \(ErrorText.quoted(tensor)): \(dtype.rawValue) shape \(shape) needs \(expected) bytes, "
                + "data_offsets span \(found)"
        case .elementCountMismatch(_, let tensor, let shape, let expected, let found):
            return "tensor \(ErrorText.quoted(tensor)): shape \(shape) needs \(expected) values, got \(found)"
        case .offsetsReversed(_, let tensor, let begin, let end):
            return "tensor \(ErrorText.quoted(tensor)): data_offsets [\(begin), \(end)] has begin after end"
        case .offsetsBeyondData(_, let tensor, let begin, let end, let dataSize):
            return "tensor \(ErrorText.quoted(tensor)): data_offsets [\(begin), \(end)] "
                + "run past the \(dataSize)-byte data section"
        case .overlappingTensors(_, let first, let second, let offset):
            return "tensor \(ErrorText.quoted(second)) starts at data byte \(offset), "
                + "inside tensor \(ErrorText.quoted(first))"
        case .gapBetweenTensors(_, let after, let begin, let end):
            let place = after.map { "after tensor \(ErrorText.quoted($0))" } ?? "before the first tensor"
            return "data bytes \(begin)..<\(end) \(place) belong to no tensor"
        case .trailingBytes(_, let after, let begin, let end):
            let place = after.map { "after the last tensor \(ErrorText.quoted($0))" } ?? "with no tensors"
            return "data bytes \(begin)..<\(end) \(place) belong to no tensor"
        case .duplicateTensor(_, let tensor):
            return "tensor \(ErrorText.quoted(tensor)) appears more than once"
        case .reservedName(_, let tensor):
            return "tensor name \(ErrorText.quoted(tensor)) is reserved for metadata"
        case .tensorNotFound(_, let tensor):
            return "no tensor named \(ErrorText.quoted(tensor))"
        case .dtypeMismatch(_, let tensor, let found, let expected):
            let list = expected.map(\.rawValue).joined(separator: ", ")
            return "tensor \(ErrorText.quoted(tensor)) is \(found.rawValue), expected one of \(list)"
        case .valueOutOfRange(_, let tensor, let index, let value):
            return "tensor \(ErrorText.quoted(tensor)): element \(index) = \(value) does not fit in Int32"
        case .rowsOutOfRange(_, let tensor, let rows, let shape):
            return "tensor \(ErrorText.quoted(tensor)): rows \(rows) outside shape \(shape)"
        }
    }
}
