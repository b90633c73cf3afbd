import Foundation
import FuzzSupport
import IdaFormats

// The safetensors header and index parser on arbitrary bytes: every input is either refused with an
// error or opens as a file whose tensors can all be read within its bounds.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzSafetensors(_ input: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = input else { return 0 }
    let path = fuzzInputFile(data, size, name: "input.safetensors")
    guard let file = try? SafetensorsFile(path: path) else { return 0 }
    for t in file.tensors {
        _ = try? file.floats(t.name)
        _ = try? file.int32s(t.name)
        _ = try? file.doubles(t.name)
    }
    return 0
}

runFuzzer { data, size in fuzzSafetensors(data, size) }
