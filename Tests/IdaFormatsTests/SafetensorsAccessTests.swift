import Foundation
import IdaFormats
import Testing

@Suite("Safetensors access: layout, rows, conversions and errors")
struct SafetensorsAccessTests {
    /// A hand-built file whose header is padded with spaces to an odd length, so that the
    /// data section (and every tensor in it) starts at an odd file offset.
    static func misalignedFile(in directory: TemporaryDirectory) throws -> String {
        var header = "{\(entry("f64", "F64", "[2]", 0, 16)),\(entry("f32", "F32", "[4, 3]", 16, 64)),"
            + "\(entry("f16", "F16", "[2, 2]", 64, 72)),\(entry("bf16", "BF16", "[3]", 72, 78)),"
            + "\(entry("i64", "I64", "[2]", 78, 94)),\(entry("flag", "BOOL", "[3]", 94, 97))}"
        header += String(repeating: " ", count: 7)
        if (8 + header.utf8.count) % 2 == 0 { header += " " }
        let doubles: [Int64] = [Int64(bitPattern: (0.1).bitPattern), Int64(bitPattern: (-3.0).bitPattern)]
        let data = i64Bytes(doubles) + floatBytes((0..<12).map { Float($0) + 0.5 })
            + u16Bytes([0x3C00, 0xC000, 0x0001, 0x7C00]) + u16Bytes([0x3F80, 0xC040, 0xFF80])
            + i64Bytes([-1, Int64(Int32.min)]) + [0, 1, 2]
        return try directory.write(safetensorsBytes(header: header, data: data), to: "misaligned.safetensors")
    }

    @Test("reads a space-padded header with a misaligned data section")
    func misalignedData() throws {
        let directory = try TemporaryDirectory()
        let file = try SafetensorsFile(path: Self.misalignedFile(in: directory))
        #expect(file.tensors.map(\.name) == ["f64", "f32", "f16", "bf16", "i64", "flag"])
        #expect(try file.doubles("f64") == [0.1, -3])
        #expect(try file.floats("f32") == (0..<12).map { Float($0) + 0.5 })
        #expect(try file.floats("f16") == [1, -2, 0x1p-24, .infinity])
        #expect(try file.doubles("bf16") == [1, -3, -.infinity])
        #expect(try file.int32s("i64") == [-1, .min])
        #expect(try file.int32s("flag") == [0, 1, 1])  // any non-zero BOOL byte reads as 1
        let pointerAligned = try file.withRawBytes("f64") { raw -> Bool in
            guard let base = raw.baseAddress else { return false }
            return Int(bitPattern: base) % 8 == 0 && raw.bindMemory(to: Double.self)[0] == 0.1
        }
        #expect(pointerAligned)
        let floatsAligned = try file.withRawBytes("f32") { raw in
            raw.baseAddress.map { Int(bitPattern: $0) % 4 == 0 } == true && raw.count == 48
        }
        #expect(floatsAligned)
    }

    @Test("floatRows reads row blocks of a [4, 3] tensor")
    func floatRows() throws {
        let values = (0..<12).map { Float($0) }
        var writer = SafetensorsWriter()
        try writer.add("m", shape: [4, 3], floats: values)
        try writer.add("h", shape: [4, 3], float16From: values)
        try writer.add("b", shape: [4, 3], bfloat16From: values)
        try writer.add("d", shape: [4, 3], doubles: values.map(Double.init))
        try writer.add("s", shape: [], floats: [1])
        try writer.add("i", shape: [4, 3], int32s: (0..<12).map(Int32.init))
        let directory = try TemporaryDirectory()
        let path = directory.file("rows.safetensors")
        try writer.write(to: path)
        let file = try SafetensorsFile(path: path)
        for name in ["m", "h", "b", "d"] {
            #expect(try file.floatRows(name, rows: 1..<3) == [3, 4, 5, 6, 7, 8], "\(name)")
            #expect(try file.floatRows(name, rows: 0..<4) == values, "\(name)")
            #expect(try file.floatRows(name, rows: 3..<4) == [9, 10, 11], "\(name)")
            #expect(try file.floatRows(name, rows: 4..<4) == [], "\(name)")
        }
        let past = #expect(throws: SafetensorsError.self) { try file.floatRows("m", rows: 3..<5) }
        #expect(past == .rowsOutOfRange(path: path, tensor: "m", rows: 3..<5, shape: [4, 3]))
        let negative = #expect(throws: SafetensorsError.self) { try file.floatRows("m", rows: -1..<1) }
        #expect(negative == .rowsOutOfRange(path: path, tensor: "m", rows: -1..<1, shape: [4, 3]))
        let scalar = #expect(throws: SafetensorsError.self) { try file.floatRows("s", rows: 0..<1) }
        #expect(scalar == .rowsOutOfRange(path: path, tensor: "s", rows: 0..<1, shape: []))
        let integer = #expect(throws: SafetensorsError.self) { try file.floatRows("i", rows: 0..<1) }
        #expect(integer == .dtypeMismatch(path: path, tensor: "i", found: .i32, expected: [.f32, .f16, .bf16, .f64]))
    }

    @Test("accessors reject missing tensors, wrong dtypes and out-of-range I64")
    func accessorErrors() throws {
        var writer = SafetensorsWriter()
        try writer.add("f", shape: [1], floats: [1])
        try writer.add("big", dtype: .i64, shape: [3], bytes: i64Bytes([1, 1 << 40, -(1 << 40)]))
        let directory = try TemporaryDirectory()
        let path = directory.file("access.safetensors")
        try writer.write(to: path)
        let file = try SafetensorsFile(path: path)
        #expect(file.info("nope") == nil)
        let missing = #expect(throws: SafetensorsError.self) { try file.floats("nope") }
        #expect(missing == .tensorNotFound(path: path, tensor: "nope"))
        #expect(throws: SafetensorsError.tensorNotFound(path: path, tensor: "nope")) {
            try file.withRawBytes("nope") { $0.count }
        }
        let wrong = #expect(throws: SafetensorsError.self) { try file.int32s("f") }
        #expect(wrong == .dtypeMismatch(path: path, tensor: "f", found: .f32, expected: [.i32, .i64, .u8, .bool]))
        #expect(throws: SafetensorsError.dtypeMismatch(path: path, tensor: "big", found: .i64,
                                                       expected: [.f32, .f16, .bf16, .f64])) {
            try file.doubles("big")
        }
        let range = #expect(throws: SafetensorsError.self) { try file.int32s("big") }
        #expect(range == .valueOutOfRange(path: path, tensor: "big", index: 1, value: 1 << 40))
    }

    @Test("the writer refuses inconsistent tensors")
    func writerErrors() throws {
        let unsaved = SafetensorsWriter.unsavedPath
        var writer = SafetensorsWriter()
        try writer.add("a", shape: [2], floats: [1, 2])
        #expect(throws: SafetensorsError.duplicateTensor(path: unsaved, tensor: "a")) {
            try writer.add("a", shape: [1], int32s: [1])
        }
        #expect(throws: SafetensorsError.reservedName(path: unsaved, tensor: "__metadata__")) {
            try writer.add("__metadata__", dtype: .u8, shape: [0], bytes: [])
        }
        #expect(throws: SafetensorsError.sizeMismatch(path: unsaved, tensor: "b", dtype: .f16, shape: [3],
                                                      expectedBytes: 6, foundBytes: 5)) {
            try writer.add("b", dtype: .f16, shape: [3], bytes: [1, 2, 3, 4, 5])
        }
        #expect(throws: SafetensorsError.elementCountMismatch(path: unsaved, tensor: "c", shape: [2, 2],
                                                              expected: 4, found: 3)) {
            try writer.add("c", shape: [2, 2], doubles: [1, 2, 3])
        }
        #expect(throws: SafetensorsError.invalidShape(path: unsaved, tensor: "d", dimension: 1, found: "-2")) {
            try writer.add("d", shape: [1, -2], floats: [])
        }
        #expect(throws: SafetensorsError.shapeOverflow(path: unsaved, tensor: "e", dtype: .bf16,
                                                       shape: [1 << 62, 4])) {
            try writer.add("e", shape: [1 << 62, 4], bfloat16From: [])
        }
        // Failed adds leave the writer as it was.
        let directory = try TemporaryDirectory()
        let path = directory.file("after-errors.safetensors")
        try writer.write(to: path)
        #expect(try SafetensorsFile(path: path).tensors.map(\.name) == ["a"])
    }

    @Test("write is atomic: replaces existing files, leaves no temporary, fails cleanly")
    func atomicWrite() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("model.safetensors")
        var first = SafetensorsWriter()
        try first.add("x", shape: [1], floats: [1])
        try first.write(to: path)
        var second = SafetensorsWriter()
        try second.add("y", shape: [2], floats: [2, 3])
        try second.write(to: path)
        #expect(try SafetensorsFile(path: path).floats("y") == [2, 3])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["model.safetensors"])
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: path))) == second.serialized())

        let unreachable = directory.file("no-such-dir/model.safetensors")
        let error = #expect(throws: SafetensorsError.self) { try second.write(to: unreachable) }
        #expect(error?.path == unreachable)
        #expect(!FileManager.default.fileExists(atPath: unreachable))
        #expect(!FileManager.default.fileExists(atPath: unreachable + ".tmp-\(getpid())"))
    }

    @Test("files stay readable from several threads at once")
    func concurrentReads() async throws {
        var writer = SafetensorsWriter()
        try writer.add("w", shape: [64, 16], floats: (0..<1024).map { Float($0) })
        let directory = try TemporaryDirectory()
        let path = directory.file("shared.safetensors")
        try writer.write(to: path)
        let file = try SafetensorsFile(path: path)
        let sums = try await withThrowingTaskGroup(of: Float.self) { group in
            for block in 0..<8 {
                group.addTask { try file.floatRows("w", rows: block * 8..<(block + 1) * 8).reduce(0, +) }
            }
            return try await group.reduce(0, +)
        }
        #expect(sums == Float(1023 * 1024 / 2))
    }
}
