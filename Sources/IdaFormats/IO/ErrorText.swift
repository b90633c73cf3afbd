#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Helpers that keep error descriptions on one line whatever a hostile file contains.
enum ErrorText {
    /// Longest piece of file-provided text shown in a message.
    static let maxShown = 120

    /// `text` in single quotes, control characters escaped, clipped to `maxShown` characters.
    static func quoted(_ text: String) -> String {
        "'" + clipped(text) + "'"
    }

    /// `text` with control characters escaped, clipped to `maxShown` characters.
    static func clipped(_ text: String) -> String {
        var out = ""
        var shown = 0
        for scalar in text.unicodeScalars {
            if shown == maxShown {
                out += "..."
                break
            }
            if scalar.value < 0x20 || scalar.value == 0x7F || scalar == "\u{2028}" || scalar == "\u{2029}" {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
            shown += 1
        }
        return out
    }

    /// The C library's message for `code`, e.g. "No such file or directory".
    static func systemMessage(_ code: Int32) -> String {
        guard let message = strerror(code) else { return "errno \(code)" }
        return String(cString: message)
    }
}
