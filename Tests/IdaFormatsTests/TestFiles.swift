import Foundation
import IdaTestSupport
import IdaFormats

/// A fresh directory under the system temporary directory, deleted when released.
final class TemporaryDirectory {
    /// Absolute path of the directory.
    let path: String

    init() throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("idaformats-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Path of `name` inside the directory.
    func file(_ name: String) -> String {
        path + "/" + name
    }

    /// Writes `bytes` to `name` and returns its path.
    @discardableResult
    func write(_ bytes: [UInt8], to name: String) throws -> String {
        let target = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }

    /// Appends `text` to the file at `name` (creating it if needed).
    func append(_ text: String, to name: String) throws {
        let target = file(name)
        if !FileManager.default.fileExists(atPath: target) {
            _ = FileManager.default.createFile(atPath: target, contents: nil)
        }
        guard let handle = FileHandle(forWritingAtPath: target) else {
            throw CocoaError(.fileWriteUnknown)
        }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
    }
}

/// A safetensors file built byte by byte: 8-byte little-endian length (the header's own
/// unless `declaredLength` is given), the header text, then `data`.
func safetensorsBytes(header: String, declaredLength: UInt64? = nil, data: [UInt8] = []) -> [UInt8] {
    let headerBytes = Array(header.utf8)
    let length = declaredLength ?? UInt64(headerBytes.count)
    let prefix = (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * UInt64($0))) }
    return prefix + headerBytes + data
}

/// One header entry: `"name":{"dtype":...,"shape":...,"data_offsets":[begin,end]}`.
func entry(_ name: String, _ dtype: String, _ shape: String, _ begin: Int, _ end: Int) -> String {
    "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[\(begin),\(end)]}"
}

/// Little-endian bytes of Float values.
func floatBytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { value in (0..<4).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * UInt32($0))) } }
}

/// Little-endian bytes of 16-bit patterns.
func u16Bytes(_ values: [UInt16]) -> [UInt8] {
    values.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }
}

/// Little-endian bytes of 64-bit integers.
func i64Bytes(_ values: [Int64]) -> [UInt8] {
    values.flatMap { value in (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * Int64($0))) } }
}


