import IdaTerminal

extension LatentView {
    /// The key beside the plot: what the colours mean, markers, view and axes, the cursor token.
    static func renderKey(_ state: InspectorState, _ la: LayerAnalysis, groups: [Int], theme: Theme, in area: Rect,
                          into buffer: inout ScreenBuffer) {
        let inner = Panel.draw("key", in: area, theme: theme, into: &buffer)
        guard !inner.isEmpty else { return }
        var lines: [StyledLine] = []
        let byDomain = state.colorByDomain && state.domains != nil
        lines.append(StyledLine([("colour: " + (byDomain ? "domain" : "top-1 expert"), theme.strong)], mode: theme.mode))
        let entries: [(Int, String, String)]
        if byDomain {
            let count = max(state.domainNames.count, (groups.max() ?? -1) + 1)
            entries = (0..<count).map { d in
                (d, d < state.domainNames.count ? state.domainNames[d] : "domain \(d)", "\(groups.filter { $0 == d }.count) tok")
            }
        } else {
            entries = la.metrics.load.enumerated().map { ($0.offset, "e\($0.offset)", NumberText.percent($0.element)) }
        }
        let markers = StyledLine([(String(theme.meanMark), theme.strong), (" mean  ", theme.muted),
                                  (String(theme.cursorMark), theme.selected), (" cursor", theme.muted)], mode: theme.mode)
        var optional: [StyledLine] = []
        let sigma = "1" + (theme.unicode ? "σ" : " sd") + " ellipses: "
        let shown = shownComponents(la, expert: state.selectedExpert).count
        optional.append(StyledLine([(sigma + (state.selectedExpert.map { "e\($0)'s \(shown)" } ?? "\(shown)") + "/\(la.priors.count)",
                                     theme.muted)], mode: theme.mode))
        if shadesOthers(la, expert: state.selectedExpert) {
            optional.append(StyledLine([((theme.unicode ? "░▒▓" : ".:#") + " other means by prior", theme.muted)], mode: theme.mode))
        }
        optional.append(StyledLine([("zoom " + NumberText.compact(state.zoom) + "x", theme.muted)], mode: theme.mode))
        if state.pan.0 != 0 || state.pan.1 != 0 {
            let signed = { (v: Double) in (v >= 0 ? "+" : "") + ViewFormat.fixed2(v) }
            optional.append(StyledLine([("pan \(signed(state.pan.0)) \(signed(state.pan.1))", theme.muted)], mode: theme.mode))
        }
        if let v = la.projection?.variances, v.count == 2 {
            for (i, variance) in v.enumerated() {
                optional.append(StyledLine([("PC\(i + 1) variance " + NumberText.compact(variance), theme.muted)], mode: theme.mode))
            }
        }
        let cursor = cursorLines(state, la, theme: theme)
        // The colour key comes first: view details give way to it when rows are short.
        // (When the entries cannot all fit anyway they are paged, and the details stay.)
        let pageable = entries.count > inner.height - 3 - cursor.count
        while !pageable && !optional.isEmpty && inner.height - 3 - cursor.count - optional.count < entries.count { optional.removeLast() }
        let footer = [markers] + optional + cursor
        let room = max(0, inner.height - 1 - footer.count - 1)
        let window = ListWindow(total: entries.count, visible: entries.count <= room ? entries.count : room - 1,
                                focus: byDomain ? 0 : state.selectedExpert ?? 0)
        let nameWidth = min(12, entries.map { DisplayWidth.of($0.1) }.max() ?? 0) + 1
        for entry in entries[window.range] {
            let mark = theme.colored ? theme.swatch : String(Theme.idGlyph(entry.0))
            let name = Text.truncate(entry.1, width: nameWidth - 1, glyphs: theme.mode.glyphs)
            lines.append(StyledLine([(mark + " ", theme.colored ? theme.series(entry.0) : theme.strong),
                                     (ViewFormat.padRight(name, nameWidth), .plain), (entry.2, theme.muted)], mode: theme.mode))
        }
        if window.isPartial {
            lines.append(StyledLine([(window.label(byDomain ? "domains" : "experts", unicode: theme.unicode), theme.muted)],
                                    mode: theme.mode))
        }
        lines.append(StyledLine(mode: theme.mode))
        lines += footer
        for (i, line) in lines.prefix(inner.height).enumerated() { line.render(in: inner.row(i), into: &buffer) }
    }

    /// The token under the cursor and where it went.
    static func cursorLines(_ state: InspectorState, _ la: LayerAnalysis, theme: Theme) -> [StyledLine] {
        let n = state.cursor
        guard n >= 0, n < la.points.count else { return [] }
        var first = StyledLine(mode: theme.mode)
        first.append("token \(n) ", theme.muted)
        if n < state.tokens.count { first.append("'" + ViewFormat.token(state.tokens[n], state.vocabulary) + "'", theme.strong) }
        var second = StyledLine(mode: theme.mode)
        second.append(theme.unicode ? "→ " : "-> ", theme.muted)
        for j in 0..<la.topK where n * la.topK + j < la.selected.count {
            let e = Int(la.selected[n * la.topK + j])
            second.append("e\(e)", theme.series(e))
            second.append(" " + ViewFormat.fixed2(Double(la.weights[n * la.topK + j])) + " ", .plain)
        }
        return [first, second]
    }
}
