import Foundation
import FuzzSupport
import IdaRouting

// run.json as `idamoe train --resume` reads it (strict: a manifest or a one-line error) and as every
// reader reads any producer's (RunDescription, lenient through the settings tables).
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzRunManifest(_ input: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = input else { return 0 }
    let dir = NSTemporaryDirectory() + "idamoe-fuzz-run-\(getpid())"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    FileManager.default.createFile(atPath: dir + "/run.json", contents: Data(UnsafeBufferPointer(start: data, count: size)))
    if let manifest = try? RunManifest.read(dir) {
        _ = try? manifest.model.validate()
        _ = try? manifest.training.validate()
        _ = manifest.model.routerConfig
    }
    if let run = RunDescription.read(directory: dir) {
        _ = try? run.model.validate()
        _ = try? run.training.validate()
    }
    return 0
}

runFuzzer { data, size in fuzzRunManifest(data, size) }
