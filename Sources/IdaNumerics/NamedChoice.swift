/// A closed set of named values (router kind, activation, norm, expert score, reactivation mode,
/// expert kind): parsed once, where text enters (checkpoint metadata, run.json, the command line),
/// with an error that names the allowed values; never a silent fallback to a default.
public protocol NamedChoice: RawRepresentable, CaseIterable, Sendable, Codable where RawValue == String {}

extension NamedChoice {
    /// Every allowed name, in declaration order.
    public static var names: [String] { allCases.map(\.rawValue) }

    /// "a, b or c".
    public static var namesText: String {
        let all = names
        guard all.count > 1 else { return all.first ?? "" }
        return all.dropLast().joined(separator: ", ") + " or " + (all.last ?? "")
    }

    /// The value named `text`; an unknown name throws a `ChoiceError` naming `key` and the allowed names.
    public static func parse(_ text: String, for key: String) throws(ChoiceError) -> Self {
        guard let value = Self(rawValue: text) else { throw ChoiceError(key: key, value: text, allowed: names) }
        return value
    }
}

/// An unknown name for a closed set.
public struct ChoiceError: Error, Equatable, CustomStringConvertible {
    /// Where the name was read (a metadata key, a manifest field).
    public var key: String
    /// The name given.
    public var value: String
    /// The names allowed.
    public var allowed: [String]

    /// "key: unknown value 'x' (allowed: a, b)".
    public var description: String { "\(key): unknown value '\(value)' (allowed: \(allowed.joined(separator: ", ")))" }
}

extension Activation: NamedChoice {}
extension ExpertScore: NamedChoice {}
extension PriorMass: NamedChoice {}
extension InputNorm: NamedChoice {}
extension ReactivationMode: NamedChoice {}
extension ExpertMLP.Kind: NamedChoice {}
