@preconcurrency import CNCursesW
import IdaTerminal

extension CursesTerminal {
    /// Shows `buffer`: writes the cells that differ from the last drawn buffer (all of them after a
    /// resize or a size change), then updates the screen. Cells beyond the terminal are dropped.
    public func draw(_ buffer: ScreenBuffer) {
        guard isActive else { return }
        let window = idamoe_stdscr()
        var changes: [CellChange]
        if needsFullRedraw || lastDrawn?.width != buffer.width || lastDrawn?.height != buffer.height {
            // A size change leaves stale cells outside the new buffer and possibly a garbled
            // screen: erase, force a full repaint, write everything.
            werase(window)
            if lastDrawn != nil { clearok(window, true) }
            changes = buffer.diff(from: ScreenBuffer(width: 0, height: 0))
            needsFullRedraw = false
        } else if let last = lastDrawn {
            changes = buffer.diff(from: last)
        } else {
            changes = []
        }
        let (cols, rows) = size
        for change in changes where change.x < cols && change.y < rows && !change.cell.isContinuation {
            write(change.cell, x: change.x, y: change.y)
        }
        wnoutrefresh(window)
        doupdate()
        lastDrawn = buffer
    }

    /// Forces the next `draw` to repaint every cell (e.g. after another program used the screen).
    public func invalidate() {
        needsFullRedraw = true
    }

    /// Writes one cell through the shim with its attributes and colour pair.
    private func write(_ cell: Cell, x: Int, y: Int) {
        let style = cell.style.adapted(to: displayMode.colors)
        var attributes: Int32 = 0
        if style.bold { attributes |= idamoe_a_bold() }
        if style.dim { attributes |= idamoe_a_dim() }
        if style.reverse { attributes |= idamoe_a_reverse() }
        if style.underline { attributes |= idamoe_a_underline() }
        var pair: Int16 = 0
        if displayMode.colors != .monochrome {
            let allocation = pairs.pair(for: style)
            if allocation.isNew { init_pair(allocation.pair, Int16(allocation.fg), Int16(allocation.bg)) }
            pair = allocation.pair
        }
        // setcchar takes one spacing character and up to four combining ones. The buffer never holds
        // a terminal control (`CellText`); checked again here, as this is the write to the terminal.
        var text: [wchar_t] = CellText.safe(cell.text).unicodeScalars.prefix(5).map { wchar_t(bitPattern: $0.value) }
        if text.isEmpty { text = [wchar_t(32)] }
        text.append(0)
        _ = idamoe_put_cell(Int32(y), Int32(x), text, attributes, pair)
    }
}
