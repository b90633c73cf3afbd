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
}

extension InspectorEvent {
    /// The inspector event for a terminal event.
    public init(_ event: TerminalEvent) {
        switch event {
        case let .key(key):
            self = .key(key.name)
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
