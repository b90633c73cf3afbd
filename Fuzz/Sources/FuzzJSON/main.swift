import Foundation
import FuzzSupport
import IdaFormats

// The JSON parser on arbitrary bytes; what parses must serialise and parse back to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzJSON(_ input: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = input else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let value = try? JSONValue.parse(bytes: bytes) else { return 0 }
    let again = try? JSONValue.parse(value.serialized())
    precondition(again == value, "JSON round trip changed the value")
    return 0
}

runFuzzer { data, size in fuzzJSON(data, size) }
