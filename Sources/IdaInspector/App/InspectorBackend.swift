import IdaTerminal

/// A place the inspector draws to and reads events from: the curses terminal, or a test double.
public protocol InspectorBackend: AnyObject {
    /// Current size in cells.
    var cellSize: (width: Int, height: Int) { get }
    /// Colours and glyphs the terminal supports.
    var displayMode: DisplayMode { get }
    /// Shows a frame (backends diff against the previous one).
    func show(_ buffer: ScreenBuffer)
    /// Waits up to `milliseconds` for an input event (sleeping, not spinning).
    func nextEvent(milliseconds: Int) -> TerminalEvent?
    /// A signal asking the program to stop (SIGTERM, SIGHUP, SIGQUIT, SIGINT) that arrived while the
    /// backend was open: the loop ends with `InspectorExit.signal` (nil: none).
    var stopSignal: Int32? { get }
}

extension InspectorBackend {
    /// Backends that receive no signals (tests, benchmarks).
    public var stopSignal: Int32? { nil }
}

/// Why the interactive loop ended.
public enum InspectorExit: Sendable, Equatable {
    /// The user quit.
    case quit
    /// A signal asked the program to stop: give the terminal back, then exit with 128 + signal.
    case signal(Int32)
}

extension InspectorEvent {
    /// The inspector event for a terminal event.
    public init(_ event: TerminalEvent) {
        switch event {
        case let .key(key):
            self = .key(key)
        case let .mouse(m):
            let button: MouseButtonName
            switch (m.button, m.action) {
            case (.left, .pressed): button = .left
            case (.scrollUp, _): button = .scrollUp
            case (.scrollDown, _): button = .scrollDown
            default: button = .other
            }
            self = .mouse(x: m.x, y: m.y, button: button)
        case let .resize(cols, rows):
            self = .resize(width: cols, height: rows)
        }
    }
}
