extension JSONValue {
    /// Compact JSON text with object keys sorted, so equal values serialize identically.
    /// Integral numbers within ±2^53 print without a fraction; `-0.0` keeps its sign.
    public func serialized() -> String {
        var out = ""
        append(to: &out)
        return out
    }

    private func append(to out: inout String) {
        switch self {
        case .null:
            out += "null"
        case .bool(let value):
            out += value ? "true" : "false"
        case .number(let value):
            out += Self.numberText(value)
        case .string(let value):
            out += Self.quoted(value)
        case .array(let elements):
            out += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { out += "," }
                element.append(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { out += "," }
                out += Self.quoted(key)
                out += ":"
                members[key, default: .null].append(to: &out)
            }
            out += "}"
        }
    }

    /// JSON has no infinities or NaN; they are written as `null` (the parser never produces them).
    static func numberText(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        if value == 0 && value.sign == .minus { return "-0.0" }
        if value.rounded(.towardZero) == value, abs(value) <= maxExactInteger,
           let integer = Int64(exactly: value) {
            return String(integer)
        }
        // Swift's description is the shortest text that round-trips, and is valid JSON for finite values.
        return "\(value)"
    }

    /// `text` as a JSON string literal: quotes, backslashes and control characters escaped.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
        return out
    }
}
