import Foundation
import IdaFormats
import Testing

/// A hostile file and the error it must produce (given the path it was written to).
struct HostileCase: Sendable, CustomTestStringConvertible {
    let label: String
    let bytes: [UInt8]
    let expected: @Sendable (String) -> SafetensorsError

    var testDescription: String { label }

    init(_ label: String, _ bytes: [UInt8], _ expected: @escaping @Sendable (String) -> SafetensorsError) {
        self.label = label
        self.bytes = bytes
        self.expected = expected
    }

    init(_ label: String, header: String, data: [UInt8] = [],
         _ expected: @escaping @Sendable (String) -> SafetensorsError) {
        self.init(label, safetensorsBytes(header: header, data: data), expected)
    }
}

@Suite("Safetensors reader rejects hostile files")
struct SafetensorsRejectionTests {
    static let four = [UInt8](repeating: 0, count: 4)
    static let cases: [HostileCase] = [
        HostileCase("empty file", []) { .fileTooShort(path: $0, size: 0) },
        HostileCase("7-byte file", [1, 0, 0, 0, 0, 0, 0]) { .fileTooShort(path: $0, size: 7) },
        HostileCase("header over the limit", safetensorsBytes(header: "{}", declaredLength: 100_000_001)) {
            .headerTooLarge(path: $0, headerLength: 100_000_001, limit: 100_000_000)
        },
        HostileCase("header length near 2^64", safetensorsBytes(header: "{}", declaredLength: .max)) {
            .headerTooLarge(path: $0, headerLength: .max, limit: 100_000_000)
        },
        HostileCase("header beyond the file end", safetensorsBytes(header: "{}  ", declaredLength: 5)) {
            .headerBeyondFile(path: $0, headerLength: 5, fileSize: 12)
        },
        HostileCase("truncated JSON", header: #"{"a":"#) {
            .invalidHeaderJSON(path: $0, offset: 13, reason: "unexpected end of input, expected a value")
        },
        HostileCase("garbage after the JSON", header: "{} x") {
            .invalidHeaderJSON(path: $0, offset: 11, reason: "unexpected data after the JSON value")
        },
        HostileCase("NUL padding instead of spaces", safetensorsBytes(header: "{}\0\0")) {
            .invalidHeaderJSON(path: $0, offset: 10, reason: "unexpected data after the JSON value")
        },
        HostileCase("invalid UTF-8 in a name", safetensorsBytes(header: "{\"\u{1}\"}").enumerated().map {
            $0.offset == 10 ? 0xFF : $0.element
        }) { .invalidHeaderJSON(path: $0, offset: 9, reason: "string is not valid UTF-8") },
        HostileCase("header is an array", header: "[]") { .headerNotObject(path: $0, found: "an array") },
        HostileCase("unknown dtype", header: "{\(entry("w", "F8_E4M3", "[4]", 0, 4))}", data: four) {
            .unknownDType(path: $0, tensor: "w", dtype: "F8_E4M3")
        },
        HostileCase("negative shape entry", header: "{\(entry("w", "U8", "[-1]", 0, 0))}") {
            .invalidShape(path: $0, tensor: "w", dimension: 0, found: "-1")
        },
        HostileCase("fractional shape entry", header: "{\(entry("w", "U8", "[2, 1.5]", 0, 3))}", data: [1, 2, 3]) {
            .invalidShape(path: $0, tensor: "w", dimension: 1, found: "1.5")
        },
        HostileCase("string shape entry", header: "{\(entry("w", "U8", "[\"4\"]", 0, 4))}", data: four) {
            .invalidShape(path: $0, tensor: "w", dimension: 0, found: "\"4\"")
        },
        HostileCase("shape beyond 2^53", header: "{\(entry("w", "U8", "[9007199254740993, 0]", 0, 0))}") {
            .invalidShape(path: $0, tensor: "w", dimension: 0, found: "9007199254740992")
        },
        HostileCase("shape product overflows", header: "{\(entry("w", "F32", "[1099511627776, 1099511627776]", 0, 4))}",
                    data: four) {
            .shapeOverflow(path: $0, tensor: "w", dtype: .f32, shape: [1 << 40, 1 << 40])
        },
        HostileCase("byte count overflows", header: "{\(entry("w", "F64", "[1125899906842624, 2048]", 0, 4))}",
                    data: four) {
            .shapeOverflow(path: $0, tensor: "w", dtype: .f64, shape: [1 << 50, 2048])
        },
        HostileCase("shape disagrees with offsets", header: "{\(entry("w", "F32", "[2]", 0, 4))}", data: four) {
            .sizeMismatch(path: $0, tensor: "w", dtype: .f32, shape: [2], expectedBytes: 8, foundBytes: 4)
        },
        HostileCase("begin after end", header: "{\(entry("w", "U8", "[4]", 8, 4))}", data: four) {
            .offsetsReversed(path: $0, tensor: "w", begin: 8, end: 4)
        },
        HostileCase("offsets past the data", header: "{\(entry("w", "F32", "[2]", 0, 8))}", data: four) {
            .offsetsBeyondData(path: $0, tensor: "w", begin: 0, end: 8, dataSize: 4)
        },
        HostileCase("negative offset", header: "{\(entry("w", "U8", "[0]", -1, -1))}") {
            .invalidTensorEntry(path: $0, tensor: "w",
                                reason: "\"data_offsets\" must be [begin, end] of non-negative integers")
        },
        HostileCase("missing data_offsets", header: #"{"w":{"dtype":"U8","shape":[0]}}"#) {
            .invalidTensorEntry(path: $0, tensor: "w",
                                reason: "\"data_offsets\" must be [begin, end] of non-negative integers")
        },
        HostileCase("entry is not an object", header: #"{"w":[1]}"#) {
            .invalidTensorEntry(path: $0, tensor: "w", reason: "entry is an array, expected an object")
        },
        HostileCase("overlapping tensors",
                    header: "{\(entry("a", "F32", "[2]", 0, 8)),\(entry("b", "F32", "[2]", 4, 12))}",
                    data: .init(repeating: 0, count: 12)) {
            .overlappingTensors(path: $0, first: "a", second: "b", offset: 4)
        },
        HostileCase("identical ranges",
                    header: "{\(entry("a", "F32", "[1]", 0, 4)),\(entry("b", "I32", "[1]", 0, 4))}", data: four) {
            .overlappingTensors(path: $0, first: "a", second: "b", offset: 0)
        },
        HostileCase("hole between tensors",
                    header: "{\(entry("a", "F32", "[1]", 0, 4)),\(entry("b", "F32", "[1]", 8, 12))}",
                    data: .init(repeating: 0, count: 12)) {
            .gapBetweenTensors(path: $0, after: "a", begin: 4, end: 8)
        },
        HostileCase("hole at the start", header: "{\(entry("a", "F32", "[1]", 4, 8))}", data: .init(repeating: 0, count: 8)) {
            .gapBetweenTensors(path: $0, after: nil, begin: 0, end: 4)
        },
        HostileCase("bytes after the last tensor", header: "{\(entry("a", "F32", "[1]", 0, 4))}", data: [0, 0, 0, 0, 7, 7]) {
            .trailingBytes(path: $0, after: "a", begin: 4, end: 6)
        },
        HostileCase("data but no tensors", header: "{}", data: [1, 2]) {
            .trailingBytes(path: $0, after: nil, begin: 0, end: 2)
        },
        HostileCase("duplicate tensor names",
                    header: "{\(entry("a", "U8", "[2]", 0, 2)),\(entry("a", "U8", "[2]", 2, 4))}", data: four) {
            .duplicateTensor(path: $0, tensor: "a")
        },
        HostileCase("non-string metadata value", header: #"{"__metadata__":{"ok":"x","n":1}}"#) {
            .invalidMetadata(path: $0, key: "n", reason: "is a number, expected a string")
        },
        HostileCase("metadata not an object", header: #"{"__metadata__":"x"}"#) {
            .invalidMetadata(path: $0, key: nil, reason: "is a string, expected an object of strings")
        },
        HostileCase("metadata twice", header: #"{"__metadata__":{},"__metadata__":{}}"#) {
            .invalidMetadata(path: $0, key: nil, reason: "appears more than once")
        },
        HostileCase("nesting bomb", header: String(repeating: "[", count: 200)) {
            .invalidHeaderJSON(path: $0, offset: 8 + 128, reason: "nesting deeper than 128 levels")
        },
    ]

    @Test("each hostile file produces its precise error", arguments: cases)
    func rejects(_ hostile: HostileCase) throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write(hostile.bytes, to: "hostile.safetensors")
        let error = #expect(throws: SafetensorsError.self) { try SafetensorsFile(path: path) }
        #expect(error == hostile.expected(path))
        let description = error?.description ?? ""
        #expect(description.hasPrefix(path + ": "))
        #expect(!description.contains("\n"))
    }

    @Test("missing files and directories are reported with their path")
    func notAFile() throws {
        let directory = try TemporaryDirectory()
        let missing = directory.file("missing.safetensors")
        let openError = #expect(throws: SafetensorsError.self) { try SafetensorsFile(path: missing) }
        #expect(openError == .io(path: missing, operation: "open", errno: ENOENT))
        #expect(openError?.description.hasPrefix(missing + ": open failed:") == true)
        let directoryError = #expect(throws: SafetensorsError.self) { try SafetensorsFile(path: directory.path) }
        #expect(directoryError == .notRegularFile(path: directory.path))
    }

    @Test("hostile names cannot break the one-line error description")
    func oneLineDescriptions() throws {
        let name = "evil\nname\r" + String(repeating: "x", count: 500)
        let header = "{\(entry(name.replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r"), "Q9", "[1]", 0, 1))}"
        let directory = try TemporaryDirectory()
        let path = try directory.write(safetensorsBytes(header: header, data: [0]), to: "evil.safetensors")
        let error = #expect(throws: SafetensorsError.self) { try SafetensorsFile(path: path) }
        #expect(error == .unknownDType(path: path, tensor: name, dtype: "Q9"))
        let description = error?.description ?? "\n"
        #expect(!description.contains("\n") && !description.contains("\r"))
        #expect(description.count < 400)
    }
}
