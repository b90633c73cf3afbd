/// A key name that `Key(name:)` does not know, with the name and its position in a script.
public struct KeyNameError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The unrecognised name.
    public var name: String
    /// Its index in the parsed sequence (0 for a single name).
    public var index: Int

    /// Creates the error.
    public init(name: String, index: Int) {
        self.name = name
        self.index = index
    }

    /// A one-line message with a hint of valid names.
    public var description: String {
        "unknown key name '\(name)' at position \(index + 1) (try a character, Space, Tab, Enter, Escape, Up, PgDn, F1 or C-c)"
    }
}

extension Key {
    /// Parses a key name: one character ("q", "?", "]"), "Space", "C-a".."C-z", "F1".."F24",
    /// or a named key ("Tab", "Left", "PgDn"...; named keys match case-insensitively).
    public init?(name: String) {
        if name.count == 1, let c = name.first {
            // A printable character: a control is never a key name (Tab, C-a... have names).
            guard DisplayWidth.of(c) > 0, !CellText.containsControl(name) else { return nil }
            self = .character(c)
            return
        }
        let lower = name.lowercased()
        if lower == "space" { self = .character(" "); return }
        if lower.hasPrefix("c-"), name.count == 3, let c = lower.last, c >= "a", c <= "z" {
            self = .control(c)
            return
        }
        if lower.hasPrefix("f"), let n = Int(lower.dropFirst()), n >= 1, n <= 24,
           String(n) == String(lower.dropFirst()) {
            self = .function(n)
            return
        }
        if let named = Key.namedKeys.first(where: { $0.1.lowercased() == lower }) {
            self = named.0
            return
        }
        guard let alias = Key.aliases[lower] else { return nil }
        self = alias
    }

    /// Parses a space-separated script of key names, e.g. "3 ] l l Tab q".
    public static func sequence(_ script: String) throws(KeyNameError) -> [Key] {
        let names = script.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
        var keys: [Key] = []
        for (index, name) in names.enumerated() {
            guard let key = Key(name: String(name)) else { throw KeyNameError(name: String(name), index: index) }
            keys.append(key)
        }
        return keys
    }
}
