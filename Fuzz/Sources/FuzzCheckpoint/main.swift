import Foundation
import FuzzSupport
import IdaFormats
import IdaRouting

// Checkpoint metadata -> router configuration -> routers, on arbitrary safetensors files.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzCheckpoint(_ input: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = input else { return 0 }
    let path = fuzzInputFile(data, size, name: "input.safetensors")
    guard let file = try? SafetensorsFile(path: path) else { return 0 }
    _ = try? CheckpointInfo(file: file)
    _ = try? RouterCheckpoint(file: file)
    return 0
}

runFuzzer { data, size in fuzzCheckpoint(data, size) }
