import Foundation
import FuzzSupport
import IdaFormats
import IdaTraining

// Snapshot metadata (`idamoe.model`) and tensors -> a whole model, as the inspector's live text
// loads one: every size is checked before anything of that size is allocated.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzSnapshotModel(_ input: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = input else { return 0 }
    let path = fuzzInputFile(data, size, name: "snapshot.safetensors")
    _ = try? SnapshotModel(path: path)
    return 0
}

runFuzzer { data, size in fuzzSnapshotModel(data, size) }
