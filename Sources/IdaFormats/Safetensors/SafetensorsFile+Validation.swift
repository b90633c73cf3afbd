extension SafetensorsFile {
    /// What a validated header says: metadata and tensors sorted by byte offset.
    struct Header {
        var metadata: [String: String]
        var tensors: [TensorInfo]
    }

    /// Parses and checks a header. `headerOffset` is where `json` starts in the file (for
    /// error offsets); `dataSize` is the length of the data section that follows it.
    static func parseHeader(_ json: UnsafeRawBufferPointer, path: String, headerOffset: Int,
                            dataSize: Int) throws(SafetensorsError) -> Header {
        let root: JSONValue
        do throws(JSONParseError) {
            root = try JSONValue.parse(bytes: json)
        } catch {
            if case .duplicateKey(_, let key, 1) = error {
                throw key == "__metadata__"
                    ? .invalidMetadata(path: path, key: nil, reason: "appears more than once")
                    : .duplicateTensor(path: path, tensor: key)
            }
            throw .invalidHeaderJSON(path: path, offset: headerOffset + error.offset, reason: error.reason)
        }
        guard case .object(let members) = root else {
            throw .headerNotObject(path: path, found: root.kindName)
        }
        var metadata: [String: String] = [:]
        var tensors: [TensorInfo] = []
        // Sorted by name so that, of several problems, the same one is always reported.
        for (name, entry) in members.sorted(by: { $0.key < $1.key }) {
            if name == "__metadata__" {
                metadata = try parseMetadata(entry, path: path)
            } else {
                tensors.append(try parseTensor(name, entry, path: path, dataSize: dataSize))
            }
        }
        tensors.sort {
            ($0.byteRange.lowerBound, $0.byteRange.upperBound, $0.name)
                < ($1.byteRange.lowerBound, $1.byteRange.upperBound, $1.name)
        }
        try checkTiling(tensors, path: path, dataSize: dataSize)
        return Header(metadata: metadata, tensors: tensors)
    }

    private static func parseMetadata(_ entry: JSONValue, path: String) throws(SafetensorsError) -> [String: String] {
        guard case .object(let members) = entry else {
            throw .invalidMetadata(path: path, key: nil, reason: "is \(entry.kindName), expected an object of strings")
        }
        var metadata: [String: String] = [:]
        for (key, value) in members.sorted(by: { $0.key < $1.key }) {
            guard case .string(let text) = value else {
                throw .invalidMetadata(path: path, key: key, reason: "is \(value.kindName), expected a string")
            }
            metadata[key] = text
        }
        return metadata
    }

    private static func parseTensor(_ name: String, _ entry: JSONValue, path: String,
                                    dataSize: Int) throws(SafetensorsError) -> TensorInfo {
        guard case .object(let fields) = entry else {
            throw .invalidTensorEntry(path: path, tensor: name, reason: "entry is \(entry.kindName), expected an object")
        }
        guard let dtypeName = fields["dtype"]?.string else {
            throw .invalidTensorEntry(path: path, tensor: name, reason: "\"dtype\" is missing or not a string")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw .unknownDType(path: path, tensor: name, dtype: dtypeName)
        }
        guard let dimensions = fields["shape"]?.array else {
            throw .invalidTensorEntry(path: path, tensor: name, reason: "\"shape\" is missing or not an array")
        }
        var shape: [Int] = []
        for (position, dimension) in dimensions.enumerated() {
            guard let size = dimension.int, size >= 0 else {
                let found = String(dimension.serialized().prefix(UntrustedText.shownLimit + 1))
                throw .invalidShape(path: path, tensor: name, dimension: position, found: found)
            }
            shape.append(size)
        }
        guard let offsets = fields["data_offsets"]?.array, offsets.count == 2,
              let begin = offsets[0].int, let end = offsets[1].int, begin >= 0, end >= 0 else {
            throw .invalidTensorEntry(path: path, tensor: name,
                                      reason: "\"data_offsets\" must be [begin, end] of non-negative integers")
        }
        guard begin <= end else { throw .offsetsReversed(path: path, tensor: name, begin: begin, end: end) }
        guard let expected = dtype.byteCount(shape: shape) else {
            throw .shapeOverflow(path: path, tensor: name, dtype: dtype, shape: shape)
        }
        guard expected == end - begin else {
            throw .sizeMismatch(path: path, tensor: name, dtype: dtype, shape: shape,
                                expectedBytes: expected, foundBytes: end - begin)
        }
        guard end <= dataSize else {
            throw .offsetsBeyondData(path: path, tensor: name, begin: begin, end: end, dataSize: dataSize)
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, byteRange: begin..<end)
    }

    /// The sorted ranges must tile `0..<dataSize` exactly: no overlap, no gap, nothing after the last.
    private static func checkTiling(_ tensors: [TensorInfo], path: String, dataSize: Int) throws(SafetensorsError) {
        var cursor = 0
        var previous: String?
        for tensor in tensors {
            let begin = tensor.byteRange.lowerBound
            if begin < cursor, let previous {
                throw .overlappingTensors(path: path, first: previous, second: tensor.name, offset: begin)
            }
            if begin > cursor {
                throw .gapBetweenTensors(path: path, after: previous, begin: cursor, end: begin)
            }
            cursor = tensor.byteRange.upperBound
            previous = tensor.name
        }
        if cursor < dataSize {
            throw .trailingBytes(path: path, after: previous, begin: cursor, end: dataSize)
        }
    }
}
