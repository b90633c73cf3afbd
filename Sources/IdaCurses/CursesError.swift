/// Why the curses terminal could not be opened.
public enum CursesError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Standard input or output is not a terminal (piped or redirected).
    case notATerminal
    /// Another `CursesTerminal` is open; curses drives one screen at a time.
    case alreadyActive
    /// ncurses could not set up the terminal type named by `TERM` (unset, or unknown to terminfo).
    case initFailed(term: String)
    /// The terminal type named by `TERM` cannot move the cursor (`dumb`, a printing terminal).
    case noCursorAddressing(term: String)

    /// `TERM` as a message may quote it: printable ASCII kept, anything else as `?` (it came from the
    /// environment, and IdaCurses sits below the sanitiser of file text).
    static func shown(_ term: String) -> String {
        String(term.unicodeScalars.prefix(64).map { $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" })
    }

    /// Why this terminal cannot show a full-screen program, for a "needs a terminal with cursor
    /// addressing (...)" message: "TERM=dumb", "TERM=foo, unknown to terminfo", "TERM is not set";
    /// nil when the error is not about the terminal type.
    public var terminalType: String? {
        switch self {
        case .notATerminal, .alreadyActive: return nil
        case let .initFailed(term): return term.isEmpty ? "TERM is not set" : "TERM=\(Self.shown(term)), unknown to terminfo"
        case let .noCursorAddressing(term): return "TERM=\(Self.shown(term))"
        }
    }

    /// A one-line message with a hint.
    public var description: String {
        switch self {
        case .notATerminal:
            return "standard input and output must be a terminal (use the headless mode to print frames instead)"
        case .alreadyActive:
            return "a curses terminal is already open in this process"
        case .initFailed(let term):
            return "ncurses cannot drive the terminal type '\(Self.shown(term))' (check TERM, e.g. TERM=xterm-256color)"
        case .noCursorAddressing(let term):
            return "the terminal type '\(Self.shown(term))' cannot move the cursor (check TERM, e.g. TERM=xterm-256color)"
        }
    }
}
