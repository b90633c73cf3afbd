import CFuzzDriver
import Foundation
import IdaFormats

// The safetensors header and index parser on arbitrary bytes: every input is either refused with an
// error or opens as a file whose tensors can all be read within its bounds.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzSafetensors(_ input: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = input else { return 0 }
    let path = NSTemporaryDirectory() + "idamoe-fuzz-\(getpid()).safetensors"
    FileManager.default.createFile(atPath: path, contents: Data(UnsafeBufferPointer(start: data, count: size)))
    guard let file = try? SafetensorsFile(path: path) else { return 0 }
    for t in file.tensors {
        _ = try? file.floats(t.name)
        _ = try? file.int32s(t.name)
        _ = try? file.doubles(t.name)
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzSafetensors(data, size) })
