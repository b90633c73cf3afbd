/// The one sanitiser between text that came from a file (metadata, tensor and domain names, vocab
/// entries, events, run.json, paths quoted in errors) and a terminal or standard output
/// (docs/reliability.md, "Untrusted text"). Every command prints such text through it.
///
/// Escaped as `\u{…}`: C0 controls (NUL, ESC, BEL, newline, tab, ...), DEL, C1 controls (U+0080 to
/// U+009F, which some terminals take as CSI or OSC), the bidirectional controls that can reorder what
/// a line appears to say (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069), the line and
/// paragraph separators, and U+FEFF. The backslash is left as it is (the text stays readable); every
/// other character is printed as given.
public enum UntrustedText {
    /// Longest piece of file-provided text `shown` prints before cutting it with "...".
    public static let shownLimit = 120

    /// `text` with every character that could drive a terminal or reorder the line escaped.
    public static func sanitized(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if needsEscape(scalar) {
                out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16))}".unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// `text` (several lines) with every escaped character escaped except the newlines between lines.
    public static func sanitizedLines(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0 != "\n" && needsEscape($0) }) else { return text }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { sanitized(String($0)) }.joined(separator: "\n")
    }

    /// JSON text with every character `sanitized` would escape written as a JSON `\uXXXX` escape: the
    /// same JSON value, safe to print. (Control characters inside strings are escaped by every JSON
    /// writer already; this adds C1 controls, bidi controls, the separators and U+FEFF, which JSON
    /// allows raw.) Only valid inside strings, which is the only place such characters can be.
    public static func jsonEscaped(_ json: String) -> String {
        guard json.unicodeScalars.contains(where: needsEscape) else { return json }
        var out = String.UnicodeScalarView()
        for scalar in json.unicodeScalars {
            if needsEscape(scalar) {
                let hex = String(scalar.value, radix: 16)
                out.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// `sanitized(text)` cut to `limit` characters of the original (then "..."): for messages that
    /// quote a name, so a hostile megabyte-long name cannot flood a line.
    public static func shown(_ text: String, limit: Int = shownLimit) -> String {
        let scalars = text.unicodeScalars
        guard scalars.count > limit else { return sanitized(text) }
        var cut = String.UnicodeScalarView()
        cut.append(contentsOf: scalars.prefix(limit))
        return sanitized(String(cut)) + "..."
    }

    /// `shown(text)` in single quotes.
    public static func quoted(_ text: String, limit: Int = shownLimit) -> String {
        "'" + shown(text, limit: limit) + "'"
    }

    /// Whether `scalar` is escaped by `sanitized`.
    public static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0..<0x20, 0x7F...0x9F: return true
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true
        case 0x2028, 0x2029, 0xFEFF: return true
        default: return false
        }
    }
}
