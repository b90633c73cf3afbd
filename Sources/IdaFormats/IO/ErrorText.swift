#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Helpers that keep error descriptions on one line whatever a hostile file contains.
enum ErrorText {
    /// `text` in single quotes, escaped and clipped by `UntrustedText` (the one sanitiser).
    static func quoted(_ text: String) -> String {
        UntrustedText.quoted(text)
    }

    /// `text` escaped and clipped by `UntrustedText` (the one sanitiser).
    static func clipped(_ text: String) -> String {
        UntrustedText.shown(text)
    }

    /// The C library's message for `code`, e.g. "No such file or directory".
    static func systemMessage(_ code: Int32) -> String {
        guard let message = strerror(code) else { return "errno \(code)" }
        return String(cString: message)
    }
}
