import IdaFormats
import Testing

@Suite("Strict JSON parser")
struct JSONParserTests {
    @Test("parses every kind of value")
    func parsesValues() throws {
        let value = try JSONValue.parse(#" {"a": [1, -2.5e3, true, false, null], "b": {"c": "d"}, "e": 0} "#)
        #expect(value == .object([
            "a": .array([.number(1), .number(-2500), .bool(true), .bool(false), .null]),
            "b": .object(["c": .string("d")]),
            "e": .number(0),
        ]))
        #expect(value["b"]?["c"]?.string == "d")
        #expect(value["a"]?.array?.count == 5)
        #expect(value["a"]?.array?[1].double == -2500)
        #expect(value["e"]?.int == 0)
        #expect(value["missing"] == nil)
        #expect(value["a"]?["not an object"] == nil)
    }

    @Test("decodes escapes, surrogate pairs and raw UTF-8")
    func decodesStrings() throws {
        let value = try JSONValue.parse(#""q\" b\\ s\/ \b\f\n\r\t \u00e9 \ud83d\ude00 ü""#)
        #expect(value.string == "q\" b\\ s/ \u{8}\u{c}\n\r\t é 😀 ü")
    }

    @Test("int accepts only integers below 2^53, which cannot have been rounded")
    func intAccessor() throws {
        #expect(JSONValue.number(3).int == 3)
        #expect(JSONValue.number(-3).int == -3)
        #expect(JSONValue.number(1.5).int == nil)
        #expect(JSONValue.number(9_007_199_254_740_991).int == 9_007_199_254_740_991)
        #expect(JSONValue.number(9_007_199_254_740_992).int == nil)  // 2^53 + 1 parses to this value
        #expect(JSONValue.number(18_014_398_509_481_984).int == nil)
        #expect(JSONValue.string("3").int == nil)
        #expect(try JSONValue.parse("1e2").int == 100)
    }

    @Test("rejects what RFC 8259 does not allow", arguments: [
        "", " ", "01", "1.", ".5", "+1", "-", "1e", "1e+", "0x10", "NaN", "Infinity", "1e999",
        "tru", "nul", "[1,]", "[1 2]", "{,}", "{\"a\"}", "{\"a\":1,}", "{a:1}", "{'a':1}",
        "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
        "\"tab\there\"", "[1] [2]", "{} x", "\u{FEFF}{}",
    ])
    func rejectsInvalid(text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    @Test("rejects bytes that are not UTF-8")
    func rejectsInvalidUTF8() {
        let error = #expect(throws: JSONParseError.self) { try JSONValue.parse(bytes: [0x22, 0xFF, 0xFE, 0x22]) }
        #expect(error == .syntax(offset: 0, message: "string is not valid UTF-8"))
    }

    @Test("reports duplicate keys with their depth and offset")
    func duplicateKeys() {
        let top = #expect(throws: JSONParseError.self) { try JSONValue.parse(#"{"a":1,"a":2}"#) }
        #expect(top == .duplicateKey(offset: 7, key: "a", depth: 1))
        let nested = #expect(throws: JSONParseError.self) { try JSONValue.parse(#"{"x":{"k":1, "k":1}}"#) }
        #expect(nested == .duplicateKey(offset: 13, key: "k", depth: 2))
    }

    @Test("reports the byte offset of a syntax error")
    func errorOffsets() {
        let error = #expect(throws: JSONParseError.self) { try JSONValue.parse("[1, 2, x]") }
        #expect(error?.offset == 7)
        #expect(error?.description.hasPrefix("byte 7: unexpected 'x'") == true)
    }

    @Test("bounds nesting depth")
    func nestingLimit() throws {
        let ok = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
        #expect(throws: Never.self) { try JSONValue.parse(ok) }
        let deep = String(repeating: "[", count: 129) + String(repeating: "]", count: 129)
        let error = #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
        #expect(error == .tooDeep(offset: 128, limit: 128))
        let hostile = String(repeating: "{\"a\":", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(hostile) }
    }

    @Test("serialized text parses back to the same value")
    func serializationRoundTrip() throws {
        let value = JSONValue.object([
            "text": .string("line\nbreak \"quoted\" \\ \u{1} é"),
            "numbers": .array([.number(0), .number(-0.0), .number(1.5), .number(1e-7), .number(-1e300), .number(42)]),
            "flags": .array([.bool(true), .bool(false), .null]),
            "nested": .object(["empty": .object([:]), "list": .array([])]),
        ])
        let text = value.serialized()
        #expect(!text.contains("\n"))
        let parsed = try JSONValue.parse(text)
        #expect(parsed == value)
        #expect(parsed["numbers"]?.array?[1].double?.sign == .minus)
        #expect(JSONValue.object(["b": .number(1), "a": .number(2)]).serialized() == #"{"a":2,"b":1}"#)
        #expect(JSONValue.number(.infinity).serialized() == "null")
    }
}
