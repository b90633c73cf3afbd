import Foundation
import IdaFormats
import IdaTestSupport
import Testing

/// Runs `python3` (found through /usr/bin/env) and reports whether numpy and safetensors import.
enum Python {
    /// Exit status and combined stdout/stderr of one run.
    struct Run {
        let status: Int32
        let output: String
    }

    /// Runs `python3 -c script arguments...`.
    static func run(_ script: String, arguments: [String] = []) throws -> Run {
        let result = try runChild("/usr/bin/env", ["python3", "-c", script] + arguments)
        return Run(status: result.status, output: result.stdout + result.stderr)
    }

    /// Nil when python3 with numpy and safetensors is usable, otherwise why not.
    static let unavailableReason: String? = {
        do {
            let probe = try run("import numpy, safetensors.numpy")
            return probe.status == 0 ? nil : "python3 cannot import numpy/safetensors: \(probe.output)"
        } catch {
            return "cannot run python3: \(error)"
        }
    }()

    /// CI installs the Python packages, so there a missing interpreter or module is a failure.
    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    /// Whether interop tests run: always on CI (to fail loudly), elsewhere only if Python works.
    static let shouldRun = unavailableReason == nil || isCI
}

@Suite("Interoperability with the Python safetensors package")
struct PythonInteropTests {
    @Test("reads the file written by fixtures/make_python_fixture.py exactly")
    func readsPythonFixture() throws {
        let path = fixturePath("python_written.safetensors")
        let file = try SafetensorsFile(path: path)
        #expect(file.metadata == ["idamoe.format": "1", "note": "written by python safetensors"])
        #expect(Set(file.tensors.map(\.name)) == [
            "f32_matrix", "f16_vector", "f64_vector", "i32_matrix", "i64_small", "i64_big",
            "u8_vector", "bool_vector", "f32_scalar", "f32_empty",
        ])
        #expect(file.tensors.map(\.byteRange.lowerBound) == file.tensors.map(\.byteRange.lowerBound).sorted())

        #expect(file.info("f32_matrix")?.shape == [2, 3])
        let matrix: [Float] = [0, 1.5, -2.25, -0.0, .infinity, 0.1]
        #expect(try file.floats("f32_matrix").map(\.bitPattern) == matrix.map(\.bitPattern))
        #expect(try file.withRawBytes("f16_vector") { Array($0.bindMemory(to: UInt16.self)) }
                    .map(UInt16.init(littleEndian:)) == [0x3C00, 0x7BFF, 0x0001, 0xC000])
        #expect(try file.floats("f16_vector") == [1, 65504, 0x1p-24, -2])
        #expect(try file.doubles("f64_vector") == [0.1, -1e300, 2.5])
        #expect(file.info("i32_matrix")?.shape == [2, 2])
        #expect(try file.int32s("i32_matrix") == [.min, .max, 0, -1])
        #expect(try file.int32s("i64_small") == [-5, 0, 7])
        #expect(throws: SafetensorsError.valueOutOfRange(path: path, tensor: "i64_big", index: 1, value: 1 << 40)) {
            try file.int32s("i64_big")
        }
        #expect(try file.int32s("u8_vector") == [0, 1, 255])
        #expect(file.info("bool_vector")?.dtype == .bool)
        #expect(try file.int32s("bool_vector") == [1, 0, 1])
        #expect(file.info("f32_scalar")?.shape == [])
        #expect(try file.floats("f32_scalar") == [42])
        #expect(file.info("f32_empty")?.shape == [0, 3])
        #expect(try file.floats("f32_empty") == [])
    }

    @Test("Python safetensors loads what SafetensorsWriter wrote",
          .enabled(if: Python.shouldRun, "python3 with numpy and safetensors is not installed"))
    func pythonReadsSwiftFile() throws {
        if let reason = Python.unavailableReason {
            Issue.record("CI=true but \(reason)")
            return
        }
        let values: [Float] = [1, -2.5, 0.1, 65504, 0x1p-24, 1e-3]
        var writer = SafetensorsWriter()
        writer.metadata = ["idamoe.format": "1", "note": "written by \"swift\" é"]
        try writer.add("f32", shape: [2, 3], floats: values)
        try writer.add("f16", shape: [3, 2], float16From: values)
        try writer.add("f16_raw", dtype: .f16, shape: [6], bytes: u16Bytes([0x3C00, 0x7BFF, 0x0001, 0x8000, 0x7C00, 0xFC00]))
        try writer.add("bf16_raw", dtype: .bf16, shape: [3], bytes: u16Bytes([0x3F80, 0xC040, 0x7F80]))
        try writer.add("f64", shape: [2], doubles: [0.1, -1e300])
        try writer.add("i32", shape: [2, 2], int32s: [.min, .max, 0, -1])
        try writer.add("i64", dtype: .i64, shape: [2], bytes: i64Bytes([-(1 << 40), 7]))
        try writer.add("u8", dtype: .u8, shape: [3], bytes: [0, 1, 255])
        try writer.add("flags", dtype: .bool, shape: [3], bytes: [1, 0, 1])
        try writer.add("scalar", shape: [], floats: [42])
        try writer.add("empty", shape: [0, 4], floats: [])
        let directory = try TemporaryDirectory()
        let path = directory.file("swift.safetensors")
        try writer.write(to: path)
        let result = try Python.run(Self.checkScript, arguments: [path])
        #expect(result.status == 0, "python check failed:\n\(result.output)")
    }

    /// Loads argv[1] with safetensors and compares every tensor and the metadata; exits 1 on mismatch.
    static let checkScript = #"""
import json, struct, sys
import numpy as np
from safetensors import safe_open

path = sys.argv[1]
errors = []
f32 = np.array([1, -2.5, 0.1, 65504, 2.0 ** -24, 1e-3], dtype=np.float32)
expected = {
    "f32": f32.reshape(2, 3),
    "f16": f32.astype(np.float16).reshape(3, 2),
    "f16_raw": np.array([0x3C00, 0x7BFF, 0x0001, 0x8000, 0x7C00, 0xFC00], dtype=np.uint16).view(np.float16),
    "f64": np.array([0.1, -1e300]),
    "i32": np.array([[-2**31, 2**31 - 1], [0, -1]], dtype=np.int32),
    "i64": np.array([-(1 << 40), 7], dtype=np.int64),
    "u8": np.array([0, 1, 255], dtype=np.uint8),
    "flags": np.array([True, False, True]),
    "scalar": np.array(42, dtype=np.float32),
    "empty": np.zeros((0, 4), dtype=np.float32),
}

def check(name, got, want):
    if got.dtype != want.dtype or got.shape != want.shape or got.tobytes() != want.tobytes():
        errors.append(f"{name}: got {got.dtype} {got.shape} {got!r}, want {want.dtype} {want.shape} {want!r}")

with safe_open(path, framework="numpy") as f:
    meta = f.metadata()
    if meta != {"idamoe.format": "1", "note": 'written by "swift" \u00e9'}:
        errors.append(f"metadata: {meta!r}")
    if set(f.keys()) != set(expected) | {"bf16_raw"}:
        errors.append(f"keys: {sorted(f.keys())}")
    for name, want in expected.items():
        check(name, f.get_tensor(name), want)

# numpy has no bfloat16: decode the raw bytes as the top halves of float32 values.
blob = open(path, "rb").read()
n = struct.unpack("<Q", blob[:8])[0]
header = json.loads(blob[8:8 + n])
if (8 + n) % 8 != 0:
    errors.append(f"data section starts at {8 + n}, not a multiple of 8")
if next(iter(header)) != "__metadata__":
    errors.append("__metadata__ is not the first header entry")
info = header["bf16_raw"]
begin, end = info["data_offsets"]
raw = np.frombuffer(blob[8 + n + begin:8 + n + end], dtype="<u2")
check("bf16_raw", (raw.astype(np.uint32) << 16).view(np.float32).reshape(info["shape"]),
      np.array([1.0, -3.0, np.inf], dtype=np.float32))

if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
"""#
}
