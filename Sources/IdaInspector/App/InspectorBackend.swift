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
    /// The inspector event for a terminal event on `state`: keys and sizes as they are, a wheel
    /// notch as `.scroll`, a left press as what the views draw where it landed (`.click`); nil for
    /// a press on nothing and for other buttons.
    public init?(_ event: TerminalEvent, on state: InspectorState) {
        switch event {
        case let .key(key):
            self = .key(key)
        case let .resize(cols, rows):
            self = .resize(width: cols, height: rows)
        case let .mouse(m):
            switch (m.button, m.action) {
            case (.scrollUp, _): self = .scroll(up: true)
            case (.scrollDown, _): self = .scroll(up: false)
            case (.left, .pressed):
                guard let target = InspectorView.target(atX: m.x, y: m.y, state: state) else { return nil }
                self = .click(target)
            default: return nil
            }
        }
    }
}
