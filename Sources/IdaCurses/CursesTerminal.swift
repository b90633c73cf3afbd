@preconcurrency import CNCursesW
import IdaTerminal
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
@preconcurrency import Darwin
#endif

/// The ncurses backend: draws `ScreenBuffer`s by writing only the cells that changed, reads keys,
/// mouse and resizes as `TerminalEvent`s, and always gives the terminal back (restore, deinit,
/// exit and fatal signals). The only type in the package that calls ncurses.
public final class CursesTerminal {
    /// The colours and glyphs in use; render widgets with this mode.
    public let displayMode: DisplayMode
    private let screen: OpaquePointer?
    var pairs: ColorPairs
    var lastDrawn: ScreenBuffer?
    var needsFullRedraw = true
    /// Whether curses still owns the terminal (false after `restore()`).
    public private(set) var isActive = false
    nonisolated(unsafe) private static var isOpen = false

    /// Opens the terminal: locale, cbreak, no echo, keypad, hidden cursor, colours when available,
    /// mouse reporting when asked. A nil mode is detected from COLORS and NO_COLOR, and the locale.
    public init(colorMode: ColorMode? = nil, glyphMode: GlyphMode? = nil, mouse: Bool = false) throws(CursesError) {
        guard isatty(STDIN_FILENO) != 0, isatty(STDOUT_FILENO) != 0 else { throw .notATerminal }
        guard !CursesTerminal.isOpen else { throw .alreadyActive }
        setlocale(LC_ALL, "")
        // Installed before newterm so ncurses leaves SIGINT/SIGTERM to the guard.
        TerminalGuard.activate()
        guard let screen = newterm(nil, stdout, stdin) else {
            TerminalGuard.deactivate()
            throw .initFailed(term: CursesTerminal.environment("TERM") ?? "")
        }
        // A terminal that cannot move the cursor (TERM=dumb, a printing terminal) would show blank
        // or garbled frames: refused before anything is drawn.
        guard CursesTerminal.capability("cup") != nil else {
            TerminalGuard.restoreIfActive()
            TerminalGuard.deactivate()
            delscreen(screen)
            throw .noCursorAddressing(term: CursesTerminal.environment("TERM") ?? "")
        }
        self.screen = screen
        CursesTerminal.isOpen = true
        isActive = true
        set_escdelay(25)
        cbreak()
        noecho()
        nonl()
        keypad(idamoe_stdscr(), true)
        intrflush(idamoe_stdscr(), false)
        curs_set(0)
        var defaultColors = false
        if has_colors() {
            start_color()
            defaultColors = use_default_colors() == OK
        }
        let colors = has_colors() ? idamoe_colors() : 0
        var environment: [String: String] = [:]
        for name in ["NO_COLOR", "LC_ALL", "LC_CTYPE", "LANG"] { environment[name] = CursesTerminal.environment(name) }
        let resolvedColors = colorMode ?? ColorMode.detect(colors: Int(colors), environment: environment)
        displayMode = DisplayMode(colors: resolvedColors, glyphs: glyphMode ?? GlyphMode.detect(environment: environment))
        pairs = ColorPairs(limit: has_colors() ? COLOR_PAIRS : 1, colors: colors, defaultColors: defaultColors)
        if mouse {
            mousemask(mmask_t(CursesMouse.allEvents | CursesMouse.reportPosition), nil)
            // Report presses and releases at once instead of waiting to assemble clicks.
            mouseinterval(0)
        }
        TerminalGuard.prepareReset(CursesTerminal.resetSequence(mouse: mouse))
    }

    /// The stop signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT) received while the terminal is open and not
    /// yet answered: the caller's loop should `restore()` and exit with 128 + signal (nil: none).
    public var pendingSignal: Int32? { isActive ? TerminalGuard.pendingSignal : nil }

    /// What gives this terminal back without curses, for the signal handlers: plain attributes, mouse
    /// reporting off (xterm's modes, when the terminal reports a mouse), keypad mode off, the cursor
    /// shown, the alternate screen left; each from terminfo, padding removed.
    static func resetSequence(mouse: Bool) -> [UInt8] {
        var bytes: [UInt8] = []
        func add(_ name: String) { bytes += capability(name) ?? [] }
        add("sgr0")
        if mouse && capability("kmous") != nil { bytes += Array("\u{1B}[?1006l\u{1B}[?1003l\u{1B}[?1002l\u{1B}[?1000l".utf8) }
        add("rmkx")
        add("cnorm")
        add("rmcup")
        return bytes
    }

    /// A string capability of the current terminal (nil: absent or cancelled), with terminfo's
    /// padding (`$<5>`, `$<2*/>`) removed: it means a delay, not bytes to send.
    static func capability(_ name: String) -> [UInt8]? {
        guard let value = tigetstr(name), Int(bitPattern: value) != -1 else { return nil }
        let raw = Array(String(cString: value).utf8)
        var out: [UInt8] = []
        var i = 0
        while i < raw.count {
            if raw[i] == UInt8(ascii: "$"), i + 1 < raw.count, raw[i + 1] == UInt8(ascii: "<"),
               let close = raw[(i + 2)...].firstIndex(of: UInt8(ascii: ">")) {
                i = close + 1
                continue
            }
            out.append(raw[i])
            i += 1
        }
        return out
    }

    deinit {
        restore()
        if let screen { delscreen(screen) }
    }

    /// The terminal's current size in cells.
    public var size: (cols: Int, rows: Int) {
        (Int(idamoe_cols()), Int(idamoe_lines()))
    }

    /// Gives the terminal back (endwin) and reinstates the previous signal handlers; idempotent.
    public func restore() {
        guard isActive else { return }
        isActive = false
        TerminalGuard.restoreIfActive()
        TerminalGuard.deactivate()
        CursesTerminal.isOpen = false
    }

    /// An environment variable, or nil.
    static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }
}
