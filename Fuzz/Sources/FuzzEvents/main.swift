import Foundation
import FuzzSupport
import IdaFormats
import IdaRouting

// The events.jsonl reader on an arbitrary file, read whole and then again after an append, as typed
// events (RunEvent, read leniently) and as generic records.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzEvents(_ input: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = input else { return 0 }
    let path = NSTemporaryDirectory() + "idamoe-fuzz-events-\(getpid()).jsonl"
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    let half = bytes.count / 2
    FileManager.default.createFile(atPath: path, contents: bytes.prefix(half))
    var reader = EventLogReader<RunEvent>(path: path)
    var generic = EventLogReader<EventRecord>(path: path)
    _ = try? reader.readNew()
    _ = try? generic.readNew()
    if let handle = FileHandle(forWritingAtPath: path) {
        handle.seekToEndOfFile()
        handle.write(bytes.suffix(from: half))
        try? handle.close()
    }
    _ = try? reader.readNew()
    _ = try? generic.readNew()
    return 0
}

runFuzzer { data, size in fuzzEvents(data, size) }
