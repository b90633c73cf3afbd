import IdaTerminal

/// ncurses mouse masks (NCURSES_MOUSE_VERSION 2: five bits per button). The header builds them
/// with function-like macros, which Swift cannot import, so they are spelled out here.
enum CursesMouse {
    /// NCURSES_MOUSE_MASK(button, bits).
    static func mask(button: UInt32, _ bits: UInt32) -> UInt32 { bits << ((button - 1) * 5) }
    /// NCURSES_BUTTON_RELEASED.
    static let released: UInt32 = 0o1
    /// NCURSES_BUTTON_PRESSED.
    static let pressed: UInt32 = 0o2
    /// NCURSES_BUTTON_CLICKED.
    static let clicked: UInt32 = 0o4
    /// REPORT_MOUSE_POSITION.
    static let reportPosition: UInt32 = mask(button: 6, 0o10)
    /// ALL_MOUSE_EVENTS.
    static let allEvents: UInt32 = reportPosition - 1

    /// The event for a `getmouse` state, or nil for motion and unmapped buttons.
    static func event(state: UInt32, x: Int, y: Int) -> MouseEvent? {
        let buttons: [(UInt32, MouseButton)] = [(1, .left), (2, .middle), (3, .right)]
        if state & mask(button: 4, pressed) != 0 { return MouseEvent(x: x, y: y, button: .scrollUp, action: .pressed) }
        if state & mask(button: 5, pressed) != 0 { return MouseEvent(x: x, y: y, button: .scrollDown, action: .pressed) }
        for (number, button) in buttons {
            if state & mask(button: number, pressed | clicked) != 0 {
                return MouseEvent(x: x, y: y, button: button, action: .pressed)
            }
            if state & mask(button: number, released) != 0 {
                return MouseEvent(x: x, y: y, button: button, action: .released)
            }
        }
        return nil
    }
}
