import IdaFormats
import Testing

@Suite("Safetensors writer and reader round trips")
struct SafetensorsRoundTripTests {
    static let shapes: [[Int]] = [[], [0], [3], [2, 3], [2, 0, 4], [1, 1, 1, 1], [3, 1, 2]]

    /// Deterministic raw bytes for `count` elements of `dtype` (BOOL gets 0/1).
    static func pattern(_ dtype: DType, count: Int) -> [UInt8] {
        (0..<count * dtype.byteSize).map { index in
            dtype == .bool ? UInt8(index % 3 == 0 ? 1 : 0) : UInt8(truncatingIfNeeded: index &* 37 &+ 11)
        }
    }

    @Test("raw bytes of every dtype and shape come back unchanged", arguments: DType.allCases)
    func rawRoundTrip(dtype: DType) throws {
        var writer = SafetensorsWriter()
        var expected: [String: ([Int], [UInt8])] = [:]
        for (index, shape) in Self.shapes.enumerated() {
            let bytes = Self.pattern(dtype, count: shape.reduce(1, *))
            try writer.add("t\(index)", dtype: dtype, shape: shape, bytes: bytes)
            expected["t\(index)"] = (shape, bytes)
        }
        let directory = try TemporaryDirectory()
        let path = directory.file("raw.safetensors")
        try writer.write(to: path)
        let file = try SafetensorsFile(path: path)
        #expect(file.tensors.count == Self.shapes.count)
        for (name, (shape, bytes)) in expected {
            let info = try #require(file.info(name))
            #expect(info.dtype == dtype)
            #expect(info.shape == shape)
            #expect(info.elementCount == shape.reduce(1, *))
            #expect(info.byteRange.count == bytes.count)
            #expect(try file.withRawBytes(name) { Array($0) } == bytes)
        }
    }

    @Test("typed values round trip through every accessor")
    func typedRoundTrip() throws {
        let values: [Float] = [0, -0.0, 1, -2.5, 0.1, 3.4e38, 0x1p-133, .infinity, -.infinity]
        var writer = SafetensorsWriter()
        try writer.add("f32", shape: [3, 3], floats: values)
        try writer.add("f16", shape: [9], float16From: values)
        try writer.add("bf16", shape: [9], bfloat16From: values)
        try writer.add("f64", shape: [2], doubles: [0.1, -1e300])
        try writer.add("i32", shape: [2, 2], int32s: [.min, .max, 0, -7])
        try writer.add("i64", dtype: .i64, shape: [2], bytes: i64Bytes([-9, 1 << 31 - 1]))
        try writer.add("u8", dtype: .u8, shape: [3], bytes: [0, 128, 255])
        try writer.add("bool", dtype: .bool, shape: [3], bytes: [1, 0, 1])
        try writer.add("scalar", shape: [], floats: [42])
        try writer.add("empty", shape: [0, 5], doubles: [])
        let directory = try TemporaryDirectory()
        let path = directory.file("typed.safetensors")
        try writer.write(to: path)
        let file = try SafetensorsFile(path: path)

        #expect(try file.floats("f32").map(\.bitPattern) == values.map(\.bitPattern))
        #expect(try file.doubles("f32") == values.map(Double.init))
        let halfExpected = values.map { Half.float(fromF16: Half.f16(from: $0)) }
        #expect(try file.floats("f16").map(\.bitPattern) == halfExpected.map(\.bitPattern))
        #expect(try file.floats("f16")[2...4] == [1, -2.5, 0.0999755859375])  // F16 0x2E66 is nearest to 0.1
        let brainExpected = values.map { Half.float(fromBF16: Half.bf16(from: $0)) }
        #expect(try file.floats("bf16").map(\.bitPattern) == brainExpected.map(\.bitPattern))
        #expect(try file.doubles("f64") == [0.1, -1e300])
        #expect(try file.floats("f64") == [Float(0.1), -.infinity])
        #expect(try file.int32s("i32") == [.min, .max, 0, -7])
        #expect(try file.int32s("i64") == [-9, Int32.max])
        #expect(try file.int32s("u8") == [0, 128, 255])
        #expect(try file.int32s("bool") == [1, 0, 1])
        #expect(try file.floats("scalar") == [42])
        #expect(file.info("scalar")?.shape == [])
        #expect(try file.doubles("empty") == [])
        #expect(file.info("empty")?.byteRange.isEmpty == true)
    }

    @Test("metadata round trips, including escapes and non-ASCII text")
    func metadataRoundTrip() throws {
        var writer = SafetensorsWriter()
        writer.metadata = ["idamoe.format": "1", "quote": "say \"hi\"\\n", "lines": "a\nb\tc", "unicode": "é 😀", "": "empty key"]
        try writer.add("x", shape: [1], floats: [1])
        let directory = try TemporaryDirectory()
        let path = directory.file("meta.safetensors")
        try writer.write(to: path)
        let file = try SafetensorsFile(path: path)
        #expect(file.metadata == writer.metadata)

        let empty = directory.file("nometa.safetensors")
        try SafetensorsWriter().write(to: empty)
        let emptyFile = try SafetensorsFile(path: empty)
        #expect(emptyFile.metadata.isEmpty)
        #expect(emptyFile.tensors.isEmpty)
    }

    @Test("the layout: aligned data start, metadata first, tensors contiguous in the order added")
    func writerLayout() throws {
        var writer = SafetensorsWriter()
        writer.metadata = ["k": "v"]
        try writer.add("zeta", shape: [3], floats: [1, 2, 3])
        try writer.add("alpha", dtype: .u8, shape: [1], bytes: [9])
        try writer.add("mid", shape: [1], doubles: [2])
        let bytes = try writer.serialized()
        let length = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect((8 + length) % 8 == 0)
        #expect(bytes.count == 8 + length + 12 + 1 + 8)
        let header = String(decoding: bytes[8..<8 + length], as: UTF8.self)
        #expect(header.hasPrefix(#"{"__metadata__":{"k":"v"},"zeta":"#))
        #expect(header.trimmingSuffix(" ").hasSuffix("}"))
        let directory = try TemporaryDirectory()
        let file = try SafetensorsFile(path: directory.write(bytes, to: "layout.safetensors"))
        #expect(file.tensors.map(\.name) == ["zeta", "alpha", "mid"])
        #expect(file.tensors.map(\.byteRange) == [0..<12, 12..<13, 13..<21])
    }
}

extension String {
    /// The string without trailing copies of `character`.
    func trimmingSuffix(_ character: Character) -> Substring {
        var text = self[...]
        while text.last == character { text = text.dropLast() }
        return text
    }
}
