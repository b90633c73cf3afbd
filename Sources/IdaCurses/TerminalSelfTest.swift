import IdaTerminal

/// Opens the terminal, draws the `TestPattern` (redrawn on resize and once a second), shows the
/// last key or mouse event in its status line, and restores the terminal when 'q' is pressed.
public func runTerminalSelfTest(colorMode: ColorMode? = nil, glyphMode: GlyphMode? = nil) throws(CursesError) {
    let terminal = try CursesTerminal(colorMode: colorMode, glyphMode: glyphMode, mouse: true)
    defer { terminal.restore() }
    var last = "none"
    var phase = 0
    var frames = 0
    while true {
        let (cols, rows) = terminal.size
        var buffer = ScreenBuffer(width: cols, height: rows)
        let mode = terminal.displayMode
        frames += 1
        let status = "\(cols)x\(rows) \(mode.colors) \(mode.glyphs) frame \(frames) last: \(last)"
        TestPattern(status: status, phase: phase, mode: mode).render(in: buffer.bounds, into: &buffer)
        terminal.draw(buffer)
        switch terminal.readEvent(timeoutMilliseconds: 1000) {
        case nil:
            phase += 1
        case .key(.character("q"))?:
            return
        case .key(let key)?:
            last = "key " + key.name
        case .mouse(let m)?:
            last = "mouse \(m.button.rawValue) \(m.action.rawValue) at \(m.x),\(m.y)"
        case .resize(let c, let r)?:
            last = "resize \(c)x\(r)"
        }
    }
}
