/// What a cell may hold: never a character that drives the terminal or reorders the line. The cell
/// buffer is the last stop before the curses backend and the headless printer, so whatever a view
/// puts there (a run's strings included) reaches the terminal only as text.
///
/// The set is the one `UntrustedText` escapes in IdaFormats (which IdaTerminal does not depend on;
/// `UntrustedScreenTests.oneSet` holds the two to the same scalars): C0 controls (NUL, ESC, BEL, newline, tab, ...), DEL, C1 controls (U+0080 to U+009F, which
/// some terminals take as CSI or OSC), the bidirectional controls (U+061C, U+200E, U+200F, U+202A
/// to U+202E, U+2066 to U+2069), the line and paragraph separators and U+FEFF.
public enum CellText {
    /// What a cell shows in place of a grapheme holding such a character (one column).
    public static let placeholder = "\u{FFFD}"

    /// Whether `scalar` may never reach the terminal.
    @inline(__always)
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v >= 0x20 && v < 0x7F { return false }
        switch v {
        case 0..<0x20, 0x7F...0x9F: return true
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true
        case 0x2028, 0x2029, 0xFEFF: return true
        default: return false
        }
    }

    /// Whether `text` holds any such character.
    @inline(__always)
    public static func containsControl(_ text: String) -> Bool {
        // Most cells hold one printable ASCII byte.
        for byte in text.utf8 where byte < 0x20 || byte >= 0x7F {
            return text.unicodeScalars.contains(where: isControl)
        }
        return false
    }

    /// `text` unless it holds such a character, else the placeholder.
    @inline(__always)
    public static func safe(_ text: String) -> String {
        containsControl(text) ? placeholder : text
    }
}
