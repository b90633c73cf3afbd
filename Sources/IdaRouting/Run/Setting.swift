import Foundation
import IdaFormats
import IdaNumerics

/// A value a setting can hold: how it reads on the command line and in help, and its JSON type for
/// docs/schema/run.schema.json.
public protocol SettingValue: Codable, Sendable, Equatable {
    /// The value as typed after its flag ("16,32" for a list).
    var flagText: String { get }
    /// The value parsed from a flag's text, nil when it does not parse.
    init?(flagText: String)
    /// The JSON Schema of the value.
    static var schema: JSONValue { get }
}

/// A setting value made of numbers that a `ValueRange` bounds: a number, a list of them, or an
/// optional one (nil, which no range refuses).
public protocol RangedSettingValue: SettingValue {
    /// The numbers a range checks.
    var rangedNumbers: [Double] { get }
}

/// One setting of a run, defined once (docs/format.md, "run.json"): its run.json key, its command-line
/// flag, its help, its default (the value in `Root()`), its range (data: `ValueRange`) and what its
/// absence from run.json means when that is not the default. Options, run.json (strict and lenient),
/// errors' flag names and wording, docs/schema (with the ranges' bounds), `idamoe schema settings` and
/// the Python defaults' test are built from these rows.
public struct Setting<Root: Sendable, Value: SettingValue>: Sendable {
    /// The key in run.json's section (`ModelConfig` or `TrainingOptions`'s field name).
    public let key: String
    /// The long flag without dashes ("width"); nil for settings with no flag (run.json only).
    public let flag: String?
    /// What the setting is, for --help (the default is added).
    public let summary: String
    /// Where the value lives.
    public let keyPath: WritableKeyPath<Root, Value> & Sendable
    /// The allowed numbers, nil for a setting that is not a number (or a list of them).
    public let range: ValueRange?
    /// The problem with a value ("must be 1...65536"): the row's own check, then the range.
    public let problem: @Sendable (Value) -> String?
    /// The values the flag offers in --help, when not every value of the type (a closed set whose
    /// members are not all settable from the command line).
    public let offered: [String]?
    /// What an absent key in run.json means (as JSON), for an optional setting whose absence is not
    /// nil's plain "not set" (the gate temperature of old runs: 1).
    public private(set) var absent: JSONValue?

    /// A setting row without a range; `check` says what is wrong with a value beyond its type.
    public init(_ key: String, flag: String?, _ summary: String, _ keyPath: WritableKeyPath<Root, Value> & Sendable,
                offered: [String]? = nil, check: @escaping @Sendable (Value) -> String? = { _ in nil }) {
        self.key = key
        self.flag = flag
        self.summary = summary
        self.keyPath = keyPath
        self.offered = offered
        self.range = nil
        self.problem = check
    }

    /// A setting row whose numbers must lie in `range`; `check` is asked first, for what a range does
    /// not say (a list's length).
    public init(_ key: String, flag: String?, _ summary: String, _ keyPath: WritableKeyPath<Root, Value> & Sendable,
                range: ValueRange, check: @escaping @Sendable (Value) -> String? = { _ in nil }) where Value: RangedSettingValue {
        self.key = key
        self.flag = flag
        self.summary = summary
        self.keyPath = keyPath
        self.offered = nil
        self.range = range
        self.problem = { value in
            if let problem = check(value) { return problem }
            return value.rangedNumbers.contains(where: { !range.contains($0) }) ? range.requirement : nil
        }
    }

    /// The row, saying that a run.json without the key means `value`.
    public func absent<Wrapped: SettingValue>(means value: Wrapped) -> Setting where Value == Wrapped? {
        var row = self
        row.absent = try? JSONValue.parse(bytes: JSONEncoderBox.encode(value))
        return row
    }
}

/// A setting with its value type erased, for tables over one root (`ModelConfig.settings`).
public struct AnySetting<Root: Sendable>: Sendable {
    /// run.json key.
    public let key: String
    /// Long flag without dashes, nil when the setting has no flag.
    public let flag: String?
    /// Help text without the default.
    public let summary: String
    /// The value's JSON Schema, with the range's bounds (on the items of a list).
    public let schema: JSONValue
    /// The allowed numbers, nil for a setting that is not a number or a list of them.
    public let range: ValueRange?
    /// What an absent key in run.json means, when the row says (`Setting.absent(means:)`).
    public let absent: JSONValue?
    /// Whether the flag takes a value (a boolean setting's flag does not: given means true).
    public let takesValue: Bool
    /// The values the flag takes, for help ("ida|softmax|sigmoid-bias", "int", "n,n,...").
    public let valueName: String
    private let value: @Sendable (Root) -> String
    private let check: @Sendable (Root) -> String?
    private let parse: @Sendable (inout Root, String) -> Bool
    private let read: @Sendable (inout Root, KeyedDecodingContainer<NameKey>) -> Bool
    private let json: @Sendable (Root) throws -> JSONValue
    private let clear: @Sendable (inout Root) -> Void

    /// Erases `setting`.
    public init<Value>(_ setting: Setting<Root, Value>) {
        key = setting.key
        flag = setting.flag
        summary = setting.summary
        schema = Self.schema(Value.schema, bounded: setting.range)
        range = setting.range
        absent = setting.absent
        takesValue = !(Value.self == Bool.self || Value.self == Bool?.self)
        valueName = setting.offered?.joined(separator: "|") ?? Self.valueName(Value.schema)
        let keyPath = setting.keyPath, problem = setting.problem, key = setting.key
        value = { $0[keyPath: keyPath].flagText }
        check = { problem($0[keyPath: keyPath]) }
        parse = { root, text in
            guard let v = Value(flagText: text) else { return false }
            root[keyPath: keyPath] = v
            return true
        }
        read = { root, container in
            guard let v = try? container.decodeIfPresent(Value.self, forKey: NameKey(key)) else { return false }
            root[keyPath: keyPath] = v
            return true
        }
        json = { root in try JSONValue.parse(bytes: Array(JSONEncoderBox.encode(root[keyPath: keyPath]))) }
        clear = { root in
            if let absent = (Value.self as? any AbsentRepresentable.Type)?.absentValue as? Value { root[keyPath: keyPath] = absent }
        }
    }

    /// Sets the value in `root` to what absence from run.json means: nil for a setting that did not
    /// exist in older runs (an optional field); other settings keep their value.
    func setAbsent(in root: inout Root) { clear(&root) }

    /// `schema` with `range`'s bounds as JSON Schema keywords, on the items of a list.
    static func schema(_ schema: JSONValue, bounded range: ValueRange?) -> JSONValue {
        guard let range, var members = schema.object else { return schema }
        if members["type"]?.string == "array" {
            members["items"] = Self.schema(members["items"] ?? .object([:]), bounded: range)
            return .object(members)
        }
        members.merge(range.schemaKeywords) { _, bound in bound }
        return .object(members)
    }

    /// "ida|softmax", "int", "n,n,..." from a value's schema.
    static func valueName(_ schema: JSONValue) -> String {
        if let names = schema["enum"]?.array?.compactMap(\.string) { return names.joined(separator: "|") }
        switch schema["type"]?.string {
        case "integer": return "int"
        case "number": return "x"
        case "array": return valueName(schema["items"] ?? .null) + ",..."
        case "string": return "text"
        default: return "value"
        }
    }

    /// The setting's value in `root` as typed after its flag.
    public func text(in root: Root) -> String { value(root) }
    /// The problem with the setting's value in `root`, nil when it is allowed.
    public func problem(in root: Root) -> String? { check(root) }
    /// Sets the value in `root` from a flag's text; false when the text does not parse.
    public func apply(_ text: String, to root: inout Root) -> Bool { parse(&root, text) }
    /// Sets the value in `root` from run.json when present and of the right type; false otherwise.
    func read(into root: inout Root, from container: KeyedDecodingContainer<NameKey>) -> Bool { read(&root, container) }
    /// The value in `root` as JSON.
    public func jsonValue(in root: Root) throws -> JSONValue { try json(root) }
}

/// A coding key made from any string (a setting's key, the names of a map such as per-domain figures).
public struct NameKey: CodingKey {
    /// The key.
    public let stringValue: String
    /// Never an integer key.
    public var intValue: Int? { nil }

    /// The key `name`.
    public init(_ name: String) { stringValue = name }
    /// The key `stringValue`.
    public init?(stringValue: String) { self.stringValue = stringValue }
    /// Never.
    public init?(intValue: Int) { nil }
}

/// Reads `Root` leniently from a JSON object: every setting present and of the right type is taken,
/// every other keeps its value in `base` (the semantics of "absent" stay the type's own: an optional
/// field absent in old runs is set to nil by `absentAs`).
struct LenientSettings<Root: Sendable>: Decodable {
    let root: Root
    let present: Set<String>

    init(from decoder: Decoder) throws {
        guard let rows = decoder.userInfo[.settingRows] as? [AnySetting<Root>], let base = decoder.userInfo[.settingBase] as? Root else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "no setting rows"))
        }
        let c = try decoder.container(keyedBy: NameKey.self)
        var root = base
        var present = Set<String>()
        for row in rows {
            if row.read(into: &root, from: c) { present.insert(row.key) } else { row.setAbsent(in: &root) }
        }
        self.root = root
        self.present = present
    }
}

extension CodingUserInfoKey {
    static let settingRows = CodingUserInfoKey(rawValue: "idamoe.settingRows")!
    static let settingBase = CodingUserInfoKey(rawValue: "idamoe.settingBase")!
}

/// JSON encoding of one value (sorted keys), for `AnySetting.jsonValue`.
enum JSONEncoderBox {
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(value))
    }
}

// MARK: - Value types

extension Int: RangedSettingValue {
    public var rangedNumbers: [Double] { [Double(self)] }
}

extension Float: RangedSettingValue {
    public var rangedNumbers: [Double] { [Double(self)] }
}

extension Double: RangedSettingValue {
    public var rangedNumbers: [Double] { [self] }
}

extension Array: RangedSettingValue where Element: RangedSettingValue {
    public var rangedNumbers: [Double] { flatMap(\.rangedNumbers) }
}

extension Optional: RangedSettingValue where Wrapped: RangedSettingValue {
    public var rangedNumbers: [Double] { map(\.rangedNumbers) ?? [] }
}

extension ValueRange {
    /// The bounds as JSON Schema keywords: `minimum` or `exclusiveMinimum`, `maximum` or `exclusiveMaximum`.
    public var schemaKeywords: [String: JSONValue] {
        var keywords: [String: JSONValue] = [:]
        if let lower { keywords[lower.isClosed ? "minimum" : "exclusiveMinimum"] = .number(lower.value) }
        if let upper { keywords[upper.isClosed ? "maximum" : "exclusiveMaximum"] = .number(upper.value) }
        return keywords
    }
}

extension Int: SettingValue {
    public var flagText: String { String(self) }
    public init?(flagText: String) { self.init(flagText) }
    public static var schema: JSONValue { .object(["type": .string("integer")]) }
}

extension UInt64: SettingValue {
    public var flagText: String { String(self) }
    public init?(flagText: String) { self.init(flagText) }
    public static var schema: JSONValue { .object(["type": .string("integer"), "minimum": .int(0)]) }
}

extension Float: SettingValue {
    public var flagText: String { description }
    public init?(flagText: String) { self.init(flagText) }
    public static var schema: JSONValue { .object(["type": .string("number")]) }
}

extension Double: SettingValue {
    public var flagText: String { description }
    public init?(flagText: String) { self.init(flagText) }
    public static var schema: JSONValue { .object(["type": .string("number")]) }
}

extension Bool: SettingValue {
    public var flagText: String { self ? "true" : "false" }
    public init?(flagText: String) { self.init(flagText) }
    public static var schema: JSONValue { .object(["type": .string("boolean")]) }
}

extension String: SettingValue {
    public var flagText: String { self }
    public init?(flagText: String) { self = flagText }
    public static var schema: JSONValue { .object(["type": .string("string")]) }
}

extension Array: SettingValue where Element: SettingValue {
    public var flagText: String { map(\.flagText).joined(separator: ",") }
    /// Comma-separated values; an empty piece ("16,,16") does not parse.
    public init?(flagText: String) {
        var out: [Element] = []
        for piece in flagText.split(separator: ",", omittingEmptySubsequences: false) {
            guard let v = Element(flagText: piece.trimmingCharacters(in: .whitespaces)) else { return nil }
            out.append(v)
        }
        self = out
    }
    public static var schema: JSONValue { .object(["type": .string("array"), "items": Element.schema]) }
}

/// A value type with a value that means "absent from run.json" (nil, for settings newer than some runs).
protocol AbsentRepresentable {
    static var absentValue: Self { get }
}

extension Optional: AbsentRepresentable {
    static var absentValue: Optional<Wrapped> { nil }
}

extension Optional: SettingValue where Wrapped: SettingValue {
    /// The wrapped value's text ("" for nil, which no flag sets).
    public var flagText: String { map(\.flagText) ?? "" }
    public init?(flagText: String) {
        guard let v = Wrapped(flagText: flagText) else { return nil }
        self = .some(v)
    }
    /// Absent in run.json means nil: the field did not exist when the run was written.
    public static var schema: JSONValue { Wrapped.schema }
}

extension SettingValue where Self: NamedChoice {
    public var flagText: String { rawValue }
    public init?(flagText: String) { self.init(rawValue: flagText) }
    public static var schema: JSONValue { .object(["enum": .array(names.map(JSONValue.string))]) }
}
