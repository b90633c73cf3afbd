/// A strict RFC 8259 parser over UTF-8 bytes that rejects duplicate object keys.
///
/// `JSONSerialization` silently keeps one of two duplicate keys; a safetensors header with
/// a repeated tensor name must be rejected, so the header and event lines go through this parser.
struct JSONParser {
    /// Deepest nesting of arrays and objects accepted, so hostile input cannot exhaust the stack.
    static let maxDepth = 128

    private let bytes: UnsafeRawBufferPointer
    private var position = 0

    /// A parser positioned at the start of `bytes`.
    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Parses exactly one value, surrounded by optional whitespace, and nothing else.
    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        let value = try parseValue(depth: 0)
        skipWhitespace()
        guard position == bytes.count else {
            throw .syntax(offset: position, message: "unexpected data after the JSON value")
        }
        return value
    }

    private mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        guard let byte = peek() else {
            throw .syntax(offset: position, message: "unexpected end of input, expected a value")
        }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw unexpected(expected: "a value")
        }
    }

    private mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= Self.maxDepth else { throw .tooDeep(offset: position, limit: Self.maxDepth) }
        position += 1  // "{"
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            position += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            let keyOffset = position
            guard peek() == UInt8(ascii: "\"") else { throw unexpected(expected: "a string key") }
            let key = try parseString()
            if members[key] != nil { throw .duplicateKey(offset: keyOffset, key: key, depth: depth) }
            skipWhitespace()
            guard peek() == UInt8(ascii: ":") else { throw unexpected(expected: "':' after an object key") }
            position += 1
            members[key] = try parseValue(depth: depth)
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"): position += 1; return .object(members)
            default: throw unexpected(expected: "',' or '}' in an object")
            }
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= Self.maxDepth else { throw .tooDeep(offset: position, limit: Self.maxDepth) }
        position += 1  // "["
        var elements: [JSONValue] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            position += 1
            return .array(elements)
        }
        while true {
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"): position += 1; return .array(elements)
            default: throw unexpected(expected: "',' or ']' in an array")
            }
        }
    }

    /// Grammar: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?; the text is then
    /// converted with correct rounding by the standard library.
    private mutating func parseNumber() throws(JSONParseError) -> Double {
        let start = position
        if peek() == UInt8(ascii: "-") { position += 1 }
        if peek() == UInt8(ascii: "0") {
            position += 1
        } else {
            try digits()
        }
        if peek() == UInt8(ascii: ".") {
            position += 1
            try digits()
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            position += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { position += 1 }
            try digits()
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else {
            throw .syntax(offset: start, message: "number \(ErrorText.clipped(text)) is out of range")
        }
        return value
    }

    /// Consumes one or more ASCII digits.
    private mutating func digits() throws(JSONParseError) {
        guard let byte = peek(), Self.isDigit(byte) else { throw unexpected(expected: "a digit") }
        while let byte = peek(), Self.isDigit(byte) { position += 1 }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        let matches = position + count <= bytes.count && (0..<count).allSatisfy {
            bytes[position + $0] == literal.utf8Start[$0]
        }
        guard matches else { throw unexpected(expected: "\(literal)") }
        position += count
    }

    mutating func skipWhitespace() {
        while let byte = peek(),
              byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
            position += 1
        }
    }

    func peek() -> UInt8? {
        position < bytes.count ? bytes[position] : nil
    }

    /// Advances by one byte (callers have checked that one is there).
    mutating func advance() {
        position += 1
    }

    var offset: Int { position }

    func unexpected(expected: String) -> JSONParseError {
        guard let byte = peek() else {
            return .syntax(offset: position, message: "unexpected end of input, expected \(expected)")
        }
        let shown = (0x21..<0x7F).contains(byte)
            ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
        return .syntax(offset: position, message: "unexpected \(shown), expected \(expected)")
    }

    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
