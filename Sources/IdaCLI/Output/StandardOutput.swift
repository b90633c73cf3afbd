import Foundation
import IdaFormats

/// Everything a command prints to standard output goes through here (docs/reliability.md, "Write
/// errors" and "Untrusted text"): every write is checked, and text is passed through the one
/// sanitiser, since tables and JSON quote names that came from files.
enum StandardOutput {
    /// Why standard output could not be written.
    enum Failure: Error, Equatable, CustomStringConvertible {
        /// The reader went away (a closed pipe, as after `| head -1`): the command ends quietly.
        case closed
        /// A write failed (a full device, an I/O error): one line and exit 1.
        case failed(errno: Int32)

        /// One line for the user.
        var description: String {
            switch self {
            case .closed: return "standard output was closed"
            case let .failed(code): return "cannot write to standard output (\(String(cString: strerror(code))))"
            }
        }
    }

    /// Writes `text` and a newline, each line sanitised (`UntrustedText.sanitizedLines`).
    static func line(_ text: String = "") throws(Failure) {
        try write(UntrustedText.sanitizedLines(text) + "\n")
    }

    /// Writes `text` as it is, each line sanitised, with no newline added.
    static func text(_ text: String) throws(Failure) {
        try write(UntrustedText.sanitizedLines(text))
    }

    /// Writes one JSON document and a newline, with the characters a terminal could act on escaped as
    /// JSON escapes (`UntrustedText.jsonEscaped`: the same JSON value).
    static func json(_ text: String) throws(Failure) {
        try write(UntrustedText.jsonEscaped(text) + "\n")
    }

    /// Writes `text` with no sanitising (bytes this program formatted itself, e.g. numbers).
    static func write(_ text: String) throws(Failure) {
        var text = text
        let failure: Failure? = text.withUTF8 { bytes -> Failure? in
            do {
                try write(bytes: UnsafeRawBufferPointer(bytes))
                return nil
            } catch let failure as StandardOutput.Failure {
                return failure
            } catch {
                return .failed(errno: EIO)
            }
        }
        if let failure { throw failure }
    }

    /// Writes every byte to descriptor 1, retrying after interrupts and short writes.
    static func write(bytes: UnsafeRawBufferPointer) throws(Failure) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let n = Foundation.write(1, base + offset, bytes.count - offset)
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw code == EPIPE ? .closed : .failed(errno: code)
            }
            if n == 0 { throw .failed(errno: EIO) }
            offset += n
        }
    }
}

/// Messages to standard error (progress, the one-line error). A failure to write them is ignored:
/// there is nowhere left to report it, and it must not stop training.
enum StandardError {
    /// Writes `text` as it is (progress lines this program formatted; errors pass the sanitiser first).
    static func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            guard let base = bytes.baseAddress else { return }
            var offset = 0
            while offset < bytes.count {
                let n = Foundation.write(2, base + offset, bytes.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                offset += n
            }
        }
    }
}
