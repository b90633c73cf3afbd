import IdaTerminal

/// Screen 4: the probe text coloured by top-1 expert (or domain) with the token cursor, and a
/// panel on the token under the cursor (beside the text when wide, below it when narrow).
public enum TokensView {
    /// Where the parts of the screen go for one state and size; rendering and hit-testing share it.
    struct Geometry {
        /// The text panel (with border).
        var textPanel: Rect
        /// Inside the text panel: where lines are drawn.
        var text: Rect
        /// The token panel (with border).
        var detail: Rect
        /// Whether the token panel is beside the text.
        var side: Bool
        /// Screen rows per line of text: 2 in monochrome, where a row of expert ids follows each line.
        var rowsPerLine: Int
        /// The laid-out text.
        var layout: TokenLayout
        /// The first line shown.
        var firstLine: Int

        /// The geometry for `state` drawn over `area` in `mode`.
        init(_ state: InspectorState, mode: DisplayMode, area: Rect) {
            side = area.width >= 100
            if side {
                let parts = area.columns([.fill(1), .fixed(40)])
                (textPanel, detail) = (parts[0], parts[1])
            } else {
                let e = state.layerAnalysis?.experts ?? 4
                let parts = area.rows([.fill(1), .fixed(min(max(8, e + 3), area.height / 2))])
                (textPanel, detail) = (parts[0], parts[1])
            }
            text = textPanel.width >= 3 && textPanel.height >= 3 ? textPanel.inset(by: 1) : textPanel
            rowsPerLine = mode.colors == .monochrome ? 2 : 1
            layout = TokenLayout.cached(tokens: state.tokens, vocabulary: state.vocabulary, width: text.width, glyphs: mode.glyphs)
            firstLine = layout.firstLine(cursor: state.cursor, rows: max(1, text.height / rowsPerLine))
        }

        /// The token drawn at screen cell (x, y), if any.
        func token(x: Int, y: Int) -> Int? {
            guard text.contains(x: x, y: y), (y - text.y) % rowsPerLine == 0 else { return nil }
            return layout.token(line: firstLine + (y - text.y) / rowsPerLine, column: x - text.x)
        }
    }

    /// The probe token drawn at screen cell (x, y) on the tokens screen of `state` (sized
    /// `state.width` x `state.height`), for mouse clicks; nil off the text.
    public static func token(atX x: Int, y: Int, state: InspectorState, mode: DisplayMode) -> Int? {
        let screen = Rect(x: 0, y: 0, width: state.width, height: state.height)
        guard screen.width >= InspectorView.minimumSize.width, screen.height >= InspectorView.minimumSize.height else { return nil }
        return Geometry(state, mode: mode, area: InspectorView.bodyArea(in: screen)).token(x: x, y: y)
    }

    /// Draws the text panel and the token panel over `area`; in a split view `marks` say which
    /// tokens' top-1 expert differs between A and B.
    static func render(_ state: InspectorState, marks: CompareMarks? = nil, theme: Theme, in area: Rect,
                       into buffer: inout ScreenBuffer) {
        let g = Geometry(state, mode: theme.mode, area: area)
        let la = state.layerAnalysis
        let byDomain = state.colorByDomain && state.domains != nil
        let colouring = byDomain ? "domain" : la.map { "top-1 expert, layer \($0.layer)" } ?? "none yet"
        let key = (g.rowsPerLine == 2 ? "row below: " : "colour: ") + colouring
        let source = state.liveText.map { "typed text @ step \($0.step)" } ?? "probe text"
        Panel.draw(source + theme.dot + key, in: g.textPanel, theme: theme, into: &buffer)
        let groups = tokenGroups(state, byDomain: byDomain)
        renderText(state, geometry: g, groups: groups, changed: marks?.changed, theme: theme, into: &buffer)
        renderDetail(state, side: g.side, theme: theme, in: g.detail, into: &buffer)
    }

    /// The colour group of each token (domain, or top-1 expert), nil where unknown.
    static func tokenGroups(_ state: InspectorState, byDomain: Bool) -> [Int?] {
        let n = state.tokens.count
        if byDomain, let domains = state.domains {
            return (0..<n).map { $0 < domains.count ? Int(domains[$0]) : nil }
        }
        guard let la = state.layerAnalysis, la.topK > 0 else { return Array(repeating: nil, count: n) }
        return (0..<n).map { i in i * la.topK < la.selected.count ? Int(la.selected[i * la.topK]) : nil }
    }

    /// Starts of the tokens matching the last search, as a mask [N] covering each whole match.
    static func matches(_ state: InspectorState) -> [Bool] {
        var mask = [Bool](repeating: false, count: state.tokens.count)
        let needle = state.searchQuery.utf8.map { Int32($0) }
        guard !needle.isEmpty, state.tokens.count >= needle.count else { return mask }
        for start in 0...(state.tokens.count - needle.count) where state.tokens[start] == needle[0] {
            if Array(state.tokens[start..<(start + needle.count)]) == needle {
                for i in start..<(start + needle.count) { mask[i] = true }
            }
        }
        return mask
    }

    /// The visible lines of text, `changed` tokens bold and underlined; in monochrome each line is
    /// followed by a row of group ids.
    static func renderText(_ state: InspectorState, geometry g: Geometry, groups: [Int?], changed: [Bool]?, theme: Theme,
                           into buffer: inout ScreenBuffer) {
        guard !g.text.isEmpty else { return }
        guard !state.tokens.isEmpty else {
            Panel.placeholder("no probe text", in: g.text, style: theme.muted, mode: theme.mode, into: &buffer)
            return
        }
        let visible = max(1, g.text.height / g.rowsPerLine)
        let found = matches(state)
        for (i, slot) in g.layout.slots.enumerated() where slot.line >= g.firstLine && slot.line < g.firstLine + visible {
            let y = g.text.y + (slot.line - g.firstLine) * g.rowsPerLine
            let x = g.text.x + slot.column
            var style = groups[i].map(theme.series) ?? .plain
            if state.vocabulary == .bytes && [0x0A, 0x09].contains(state.tokens[i] & 0xFF) { style.dim = true }
            if found[i] { style.underline = true }
            if let changed, i < changed.count, changed[i] {
                style.underline = true
                style.bold = true
            }
            if i == state.cursor { style = Style(fg: style.fg, bold: true, reverse: true) }
            buffer.put(slot.text, at: x, y: y, style: style, clip: g.text)
            if g.rowsPerLine == 2, let group = groups[i], y + 1 < g.text.maxY {
                let mark = Cell(Theme.idGlyph(group), style: i == state.cursor ? theme.selected : theme.muted)
                buffer.set(mark, x: x, y: y + 1)
            }
        }
    }
}
