@preconcurrency import CNCursesW
import IdaTerminal

extension CursesTerminal {
    /// Waits up to `timeoutMilliseconds` (negative: forever) for a key, mouse event or resize,
    /// blocking in the kernel; nil on timeout. Input with no event (mouse motion, unknown keys)
    /// is skipped without extending the wait.
    public func readEvent(timeoutMilliseconds: Int) -> TerminalEvent? {
        guard isActive else { return nil }
        let window = idamoe_stdscr()
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(max(0, timeoutMilliseconds))
        while true {
            var wait: Int32 = -1
            if timeoutMilliseconds >= 0 {
                let left = deadline - clock.now
                let milliseconds = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
                wait = Int32(clamping: max(0, milliseconds))
            }
            wtimeout(window, wait)
            var code: wint_t = 0
            let result = wget_wch(window, &code)
            if result == idamoe_err() { return nil }
            if let event = decode(result: result, code: code) { return event }
            if timeoutMilliseconds >= 0 && clock.now >= deadline { return nil }
        }
    }

    /// The event for one `wget_wch` result.
    private func decode(result: Int32, code: wint_t) -> TerminalEvent? {
        guard result == KEY_CODE_YES else {
            return CursesKeys.character(UInt32(code)).map { .key($0) }
        }
        let key = Int32(bitPattern: UInt32(code))
        if key == idamoe_key_resize() {
            needsFullRedraw = true
            let (cols, rows) = size
            return .resize(cols: cols, rows: rows)
        }
        if key == idamoe_key_mouse() {
            var event = MEVENT()
            guard getmouse(&event) == OK else { return nil }
            return CursesMouse.event(state: UInt32(event.bstate), x: Int(event.x), y: Int(event.y)).map { .mouse($0) }
        }
        return CursesKeys.function(key).map { .key($0) }
    }
}
