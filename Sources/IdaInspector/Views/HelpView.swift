import IdaTerminal

/// The `?` overlay: a centred box listing every row of `KeyTable.bindings` (then the mouse) as
/// "keys  help  screens",
/// in as many columns as the terminal needs (screen names shorten to their numbers first).
enum HelpView {
    /// One binding as drawn.
    struct Entry: Equatable {
        /// "Left/h".
        var keys: String
        /// What the keys do.
        var help: String
        /// Where they apply, by name ("Latent, Tokens"; "" everywhere).
        var screens: String
        /// Where they apply, by number ("3,4").
        var screenNumbers: String
    }

    /// The entries, in table order.
    static var entries: [Entry] {
        let keys = KeyTable.bindings.map { b in
            let screens = b.screens ?? []
            return Entry(keys: KeyTable.displayName(b.keys), help: b.help,
                         screens: screens.map(\.title).joined(separator: ", "),
                         screenNumbers: screens.map { String($0.rawValue) }.sorted().joined(separator: ","))
        }
        let mouse = KeyTable.mouse.map { m in
            Entry(keys: m.gesture, help: m.help, screens: m.screens.map(\.title).joined(separator: ", "),
                  screenNumbers: m.screens.map { String($0.rawValue) }.sorted().joined(separator: ","))
        }
        return keys + mouse
    }

    /// A chosen arrangement of the entries inside the box.
    struct Arrangement: Equatable {
        /// Entry columns side by side.
        var columns: Int
        /// Screens by number rather than by name.
        var numbers: Bool
        /// Width of one entry column.
        var columnWidth: Int
        /// Blank columns between entry columns.
        var gap: Int
        /// Blank columns between the border and the entries.
        var padding: Int
        /// Entries per column.
        var rowsPerColumn: Int
        /// Whether something may be shortened or left out (the box then takes the whole area).
        var cut: Bool
        /// Blank columns between the keys and the help text.
        var keyGap: Int { cut ? 1 : 2 }
        /// Inner width of the box, padding included.
        var width: Int { columns * columnWidth + (columns - 1) * gap + 2 * padding }
    }

    /// Columns one entry needs: keys, help and (right-aligned) screens with two-space gaps.
    static func needed(_ e: Entry, keyWidth: Int, numbers: Bool) -> Int {
        let screens = DisplayWidth.of(numbers ? e.screenNumbers : e.screens)
        return keyWidth + 2 + DisplayWidth.of(e.help) + (screens > 0 ? 2 + screens : 0)
    }

    /// The first arrangement showing every entry uncut within `width` x `height` inner cells, or a
    /// full-area one with help text shortened and entries left out when none does.
    static func arrange(_ entries: [Entry], width: Int, height: Int) -> Arrangement {
        let keyWidth = entries.map { DisplayWidth.of($0.keys) }.max() ?? 0
        let rows = max(1, height - 2)
        for (columns, numbers) in [(1, false), (1, true), (2, false), (2, true), (3, true)] {
            let column = entries.map { needed($0, keyWidth: keyWidth, numbers: numbers) }.max() ?? 0
            let per = (entries.count + columns - 1) / columns
            let a = Arrangement(columns: columns, numbers: numbers, columnWidth: column, gap: 3, padding: 1,
                                rowsPerColumn: per, cut: false)
            if a.width <= width && per <= rows { return a }
        }
        let columns = width >= 2 * 34 + 2 ? 2 : 1
        return Arrangement(columns: columns, numbers: true, columnWidth: (width - (columns - 1) * 2) / columns, gap: 2,
                           padding: 0, rowsPerColumn: min(rows, (entries.count + columns - 1) / columns), cut: true)
    }

    /// Draws the overlay centred in `area`.
    static func render(theme: Theme, in area: Rect, into buffer: inout ScreenBuffer) {
        let all = entries
        let a = arrange(all, width: max(0, area.width - 2), height: max(0, area.height - 2))
        let keyWidth = all.map { DisplayWidth.of($0.keys) }.max() ?? 0
        let boxWidth = a.cut ? area.width : min(area.width, a.width + 2)
        let boxHeight = a.cut ? area.height : min(area.height, a.rowsPerColumn + 4)
        let box = Rect(x: area.x + max(0, (area.width - boxWidth) / 2), y: area.y + max(0, (area.height - boxHeight) / 2),
                       width: boxWidth, height: boxHeight)
        buffer.fill(box)
        let inner = Panel.draw("keys", in: box, theme: theme, into: &buffer).inset(left: a.padding, right: a.padding)
        guard !inner.isEmpty else { return }
        let shown = min(all.count, a.columns * a.rowsPerColumn)
        for c in 0..<a.columns {
            let x = inner.x + c * (a.columnWidth + a.gap)
            let column = Rect(x: x, y: inner.y, width: min(a.columnWidth, max(0, inner.maxX - x)), height: inner.height)
            Text(ViewFormat.padRight("keys", keyWidth + a.keyGap) + "action", style: theme.muted, mode: theme.mode)
                .render(in: column.row(0), into: &buffer)
            Text(a.numbers ? "on" : "screens", style: theme.muted, alignment: .right, mode: theme.mode)
                .render(in: column.row(0), into: &buffer)
            for r in 0..<a.rowsPerColumn {
                let i = c * a.rowsPerColumn + r
                guard i < shown else { break }
                renderEntry(all[i], keyWidth: keyWidth + a.keyGap, numbers: a.numbers, theme: theme, in: column.row(r + 1),
                            into: &buffer)
            }
        }
        let closing = "any key closes"
        let note = shown < all.count ? theme.ellipsis + " \(all.count - shown) more: enlarge the terminal" + theme.dot + closing
            : (a.numbers ? "on: screen numbers, " : "") + "blank: everywhere" + theme.dot + closing
        Text(note, style: theme.muted, alignment: .center, mode: theme.mode).render(in: inner.row(inner.height - 1), into: &buffer)
    }

    /// One entry: keys, help from column `helpColumn` (shortened only when it would run into the
    /// screens), screens at the right.
    static func renderEntry(_ e: Entry, keyWidth helpColumn: Int, numbers: Bool, theme: Theme, in row: Rect,
                            into buffer: inout ScreenBuffer) {
        let screens = numbers ? e.screenNumbers : e.screens
        let screensWidth = DisplayWidth.of(screens)
        let room = row.width - helpColumn - (screensWidth > 0 ? screensWidth + 2 : 0)
        buffer.put(e.keys, at: row.x, y: row.y, style: theme.key, clip: row)
        buffer.put(Text.truncate(e.help, width: max(0, room), glyphs: theme.mode.glyphs), at: row.x + helpColumn, y: row.y, clip: row)
        Text(screens, style: theme.muted, alignment: .right, mode: theme.mode).render(in: row, into: &buffer)
    }
}
