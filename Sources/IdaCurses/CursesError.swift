/// Why the curses terminal could not be opened.
public enum CursesError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Standard input or output is not a terminal (piped or redirected).
    case notATerminal
    /// Another `CursesTerminal` is open; curses drives one screen at a time.
    case alreadyActive
    /// ncurses could not set up the terminal type named by `TERM`.
    case initFailed(term: String)

    /// A one-line message with a hint.
    public var description: String {
        switch self {
        case .notATerminal:
            return "standard input and output must be a terminal (use the headless mode to print frames instead)"
        case .alreadyActive:
            return "a curses terminal is already open in this process"
        case .initFailed(let term):
            return "ncurses cannot drive the terminal type '\(term)' (check TERM, e.g. TERM=xterm-256color)"
        }
    }
}
