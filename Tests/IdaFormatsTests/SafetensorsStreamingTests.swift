import Foundation
import IdaFormats
import IdaTestSupport
import Testing

@Suite("Safetensors tensors written piece by piece")
struct SafetensorsStreamingTests {
    /// A chunk source handing out `bytes` in pieces of `size`.
    static func pieces(_ bytes: [UInt8], size: Int) -> () -> [UInt8]? {
        var offset = 0
        return {
            guard offset < bytes.count else { return nil }
            let end = min(bytes.count, offset + size)
            defer { offset = end }
            return Array(bytes[offset..<end])
        }
    }

    @Test("a streamed tensor gives the same file as the same bytes added at once")
    func sameFile() throws {
        let values = (0..<1_000).map { Float($0) * 0.25 - 7 }
        var whole = SafetensorsWriter(), streamed = SafetensorsWriter()
        whole.metadata = ["k": "v"]
        streamed.metadata = ["k": "v"]
        try whole.add("a", shape: [10, 100], float16From: values)
        try whole.add("b", shape: [3], int32s: [1, 2, 3])
        let bytes = SafetensorsWriter.encoded(values, as: .f16)
        try streamed.add("a", dtype: .f16, shape: [10, 100], chunks: Self.pieces(bytes, size: 333))
        try streamed.add("b", shape: [3], int32s: [1, 2, 3])
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try whole.write(to: directory + "/whole.safetensors")
        try streamed.write(to: directory + "/streamed.safetensors")
        let a = try Data(contentsOf: URL(fileURLWithPath: directory + "/whole.safetensors"))
        let b = try Data(contentsOf: URL(fileURLWithPath: directory + "/streamed.safetensors"))
        #expect(a == b)
        let file = try SafetensorsFile(path: directory + "/streamed.safetensors")
        #expect(try file.floats("a") == values)
    }

    @Test("pieces that do not fill the declared size, or overflow it: an error naming the tensor, no file",
          arguments: [999, 1_001])
    func wrongSize(count: Int) throws {
        var writer = SafetensorsWriter()
        try writer.add("h", dtype: .f32, shape: [1_000], chunks: Self.pieces([UInt8](repeating: 1, count: 4 * count), size: 256))
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/bad.safetensors"
        #expect(throws: SafetensorsError.self) { try writer.write(to: path) }
        do {
            try writer.write(to: path)
        } catch {
            #expect("\(error)".contains("h"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty, "no temporary left")
    }
}
