import CFuzzDriver
import Foundation
import IdaFormats
import IdaRouting

// Checkpoint metadata -> router configuration -> routers, on arbitrary safetensors files.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzCheckpoint(_ input: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = input else { return 0 }
    let path = NSTemporaryDirectory() + "idamoe-fuzz-\(getpid()).safetensors"
    FileManager.default.createFile(atPath: path, contents: Data(UnsafeBufferPointer(start: data, count: size)))
    guard let file = try? SafetensorsFile(path: path) else { return 0 }
    _ = try? CheckpointInfo(file: file)
    _ = try? RouterCheckpoint(file: file)
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzCheckpoint(data, size) })
