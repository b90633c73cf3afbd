/// A parsed JSON value; numbers are held as `Double`, so integers are exact up to 2^53.
public enum JSONValue: Sendable, Equatable {
    /// The literal `null`.
    case null
    /// The literals `true` and `false`.
    case bool(Bool)
    /// Any JSON number (always finite).
    case number(Double)
    /// A string, already unescaped.
    case string(String)
    /// An array, in document order.
    case array([JSONValue])
    /// An object; keys are unique (the parser rejects duplicates).
    case object([String: JSONValue])

    /// 2^53: below it every integer is exactly representable as a `Double`, at it rounding begins.
    static let maxExactInteger: Double = 9_007_199_254_740_992

    /// An integer as a JSON number.
    public static func int(_ value: Int) -> JSONValue { .number(Double(value)) }

    /// The number, if this is a number.
    public var double: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// The number as an `Int`, if it is integral and below 2^53 in magnitude (where integer literals parse exactly).
    public var int: Int? {
        guard case .number(let value) = self, value.rounded(.towardZero) == value,
              abs(value) < Self.maxExactInteger else { return nil }
        return Int(exactly: value)
    }

    /// The boolean, if this is `true` or `false`.
    public var bool: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The string, if this is a string.
    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The elements, if this is an array.
    public var array: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The members, if this is an object.
    public var object: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The member named `key`, if this is an object that has it.
    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    /// A short name for the kind of value, for error messages ("object", "array", ...).
    var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

extension JSONValue {
    /// Parses one JSON document (strict RFC 8259, duplicate keys rejected, nesting bounded).
    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(bytes: Array(text.utf8))
    }

    /// Parses one JSON document from UTF-8 bytes.
    public static func parse(bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(JSONParseError) -> JSONValue in
                var parser = JSONParser(bytes: raw)
                return try parser.parseDocument()
            }
        }
        return try result.get()
    }

    /// Parses one JSON document from raw UTF-8 bytes without copying them.
    public static func parse(bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        return try parser.parseDocument()
    }
}
