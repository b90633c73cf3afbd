extension JSONParser {
    /// Parses a string starting at its opening quote; escapes are decoded and the result
    /// must be valid UTF-8 (lone surrogates in `\u` escapes are rejected).
    mutating func parseString() throws(JSONParseError) -> String {
        let start = offset
        advance()  // opening quote
        var utf8: [UInt8] = []
        while true {
            guard let byte = peek() else {
                throw .syntax(offset: start, message: "unterminated string")
            }
            switch byte {
            case UInt8(ascii: "\""):
                advance()
                guard let text = String(validating: utf8, as: UTF8.self) else {
                    throw .syntax(offset: start, message: "string is not valid UTF-8")
                }
                return text
            case UInt8(ascii: "\\"):
                try parseEscape(into: &utf8)
            case 0..<0x20:
                throw .syntax(offset: offset, message: "unescaped control character in a string")
            default:
                utf8.append(byte)
                advance()
            }
        }
    }

    private mutating func parseEscape(into utf8: inout [UInt8]) throws(JSONParseError) {
        let start = offset
        advance()  // backslash
        guard let code = peek() else { throw .syntax(offset: start, message: "unterminated string") }
        advance()
        switch code {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(code)
        case UInt8(ascii: "b"): utf8.append(0x08)
        case UInt8(ascii: "f"): utf8.append(0x0C)
        case UInt8(ascii: "n"): utf8.append(0x0A)
        case UInt8(ascii: "r"): utf8.append(0x0D)
        case UInt8(ascii: "t"): utf8.append(0x09)
        case UInt8(ascii: "u"):
            var value = try parseHex4()
            if (0xD800...0xDBFF).contains(value) {
                // A high surrogate must be followed by an escaped low surrogate (RFC 8259 §7).
                guard peek() == UInt8(ascii: "\\") else { throw loneSurrogate(at: start) }
                advance()
                guard peek() == UInt8(ascii: "u") else { throw loneSurrogate(at: start) }
                advance()
                let low = try parseHex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw loneSurrogate(at: start) }
                value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(value) {
                throw loneSurrogate(at: start)
            }
            guard let scalar = Unicode.Scalar(value) else { throw loneSurrogate(at: start) }
            UTF8.encode(scalar) { utf8.append($0) }
        default:
            throw .syntax(offset: start, message: "invalid escape sequence in a string")
        }
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = peek() else { throw unexpected(expected: "four hex digits after \\u") }
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw unexpected(expected: "four hex digits after \\u")
            }
            value = value << 4 | UInt32(digit)
            advance()
        }
        return value
    }

    private func loneSurrogate(at start: Int) -> JSONParseError {
        .syntax(offset: start, message: "unpaired UTF-16 surrogate in a \\u escape")
    }
}
