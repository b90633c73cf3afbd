import IdaTerminal

/// A titled, bordered region of a screen (btop style). Drawing the frame is separate from what
/// goes inside: `draw` returns the inner rectangle for the panel's content.
enum Panel {
    /// Draws the border and title over `area` and returns the inner rectangle; an area too small
    /// for a border (under 3x3) gets no frame and is returned whole.
    @discardableResult
    static func draw(_ title: String, in area: Rect, theme: Theme, into buffer: inout ScreenBuffer) -> Rect {
        guard area.width >= 3, area.height >= 3 else { return area }
        let box = Box(title: title, style: theme.border, titleStyle: theme.title, mode: theme.mode)
        box.render(in: area, into: &buffer)
        return box.inner(area)
    }

    /// The inner rectangle `draw` returns for `area`, without drawing (for hit-testing).
    static func innerArea(_ area: Rect) -> Rect {
        area.width >= 3 && area.height >= 3 ? area.inset(by: 1) : area
    }

    /// Draws `text` centred in `area` in the muted style (placeholders such as "waiting for the first
    /// snapshot…"); long text wraps at spaces.
    static func placeholder(_ text: String, in area: Rect, style: Style, mode: DisplayMode, into buffer: inout ScreenBuffer) {
        guard !area.isEmpty else { return }
        let lines = wrap(text, width: area.width)
        let top = area.y + max(0, (area.height - lines.count) / 2)
        for (i, line) in lines.enumerated() where top + i < area.maxY {
            Text(line, style: style, alignment: .center, mode: mode)
                .render(in: Rect(x: area.x, y: top + i, width: area.width, height: 1), into: &buffer)
        }
    }

    /// A panel titled `title` that waits for the analysis of the shown snapshot (what is being routed).
    static func waiting(_ title: String, _ state: InspectorState, theme: Theme, in area: Rect,
                        into buffer: inout ScreenBuffer) {
        let inner = draw(title, in: area, theme: theme, into: &buffer)
        placeholder(ViewFormat.waiting(state, ellipsis: theme.ellipsis), in: inner, style: theme.muted,
                    mode: theme.mode, into: &buffer)
    }

    /// Words of `text` packed into lines of at most `width` columns ("\n" forces a break); a word
    /// longer than the width gets a line of its own (and is cut when drawn).
    static func wrap(_ text: String, width: Int) -> [String] {
        guard width > 0 else { return [] }
        var lines: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = ""
            for word in paragraph.split(separator: " ") {
                let candidate = line.isEmpty ? String(word) : line + " " + word
                if DisplayWidth.of(candidate) <= width || line.isEmpty {
                    line = candidate
                } else {
                    lines.append(line)
                    line = String(word)
                }
            }
            lines.append(line)
        }
        return lines
    }
}
