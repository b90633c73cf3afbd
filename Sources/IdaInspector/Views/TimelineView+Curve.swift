import IdaTerminal

extension TimelineView {
    /// CV mean over every logged step as a sparkline, markers under the selected and pinned steps,
    /// and the follow / pause hint from the key table.
    static func renderCurve(_ state: InspectorState, theme: Theme, in area: Rect, into buffer: inout ScreenBuffer) {
        let steps = state.history.steps
        let now = steps.last.map { theme.dot + "now " + ViewFormat.fixed3($0.cvMean) } ?? ""
        let inner = Panel.draw("CV mean over steps" + now, in: area, theme: theme, into: &buffer)
        guard !inner.isEmpty else { return }
        let hintRow = inner.row(inner.height - 1)
        renderFollowHint(state, theme: theme, in: hintRow, into: &buffer)
        guard inner.height >= 3, !steps.isEmpty else {
            if inner.height >= 2 {
                Text("no steps logged", style: theme.muted, mode: theme.mode).render(in: inner.row(0), into: &buffer)
            }
            return
        }
        let labelWidth = 7
        let plot = Rect(x: inner.x + labelWidth, y: inner.y, width: max(0, inner.width - labelWidth), height: inner.height - 2)
        let values = ViewFormat.buckets(steps.map(\.cvMean), count: plot.width)
        let finite = values.filter(\.isFinite)
        let hi = max(finite.max() ?? 1, 1e-9)
        Text(ViewFormat.fixed2(hi), style: theme.muted, alignment: .right, mode: theme.mode)
            .render(in: Rect(x: inner.x, y: plot.y, width: labelWidth - 1, height: 1), into: &buffer)
        Text("0", style: theme.muted, alignment: .right, mode: theme.mode)
            .render(in: Rect(x: inner.x, y: plot.maxY - 1, width: labelWidth - 1, height: 1), into: &buffer)
        Sparkline(values: values, min: 0, max: hi, style: Style(fg: theme.seriesColor(4)), mode: theme.mode)
            .render(in: plot, into: &buffer)
        let markerRow = Rect(x: plot.x, y: plot.maxY, width: plot.width, height: 1)
        func column(of step: Int) -> Int? {
            guard let index = steps.lastIndex(where: { $0.step <= step }) else { return nil }
            return ViewFormat.bucket(of: index, total: steps.count, count: plot.width)
        }
        if let pinned = state.pinnedStep, let c = column(of: pinned) {
            buffer.put(theme.pinMark, at: markerRow.x + c, y: markerRow.y, style: theme.info, clip: markerRow)
        }
        if let selected = state.selectedStep, let c = column(of: selected) {
            // The caret sits under the step's column, its label on whichever side has room.
            let left = "\(theme.caret) step \(selected)"
            let right = "step \(selected) \(theme.caret)"
            let w = DisplayWidth.of(left)
            let fitsRight = c + w <= markerRow.width
            buffer.put(fitsRight ? left : right, at: fitsRight ? markerRow.x + c : max(markerRow.x, markerRow.x + c - w + 1),
                       y: markerRow.y, style: theme.strong, clip: markerRow)
        }
    }

    /// "space pause / follow the live run (following)" from the key table's follow binding.
    static func renderFollowHint(_ state: InspectorState, theme: Theme, in row: Rect, into buffer: inout ScreenBuffer) {
        var line = StyledLine(mode: theme.mode)
        for binding in KeyTable.bindings where binding.action == .toggleFollow || binding.action == .pinComparison {
            if !line.pieces.isEmpty { line.append("   ") }
            line.append(KeyTable.displayName(binding.keys), theme.key)
            line.append(" " + binding.help, .plain)
            if binding.action == .toggleFollow {
                let status = !state.live ? "static checkpoint" : state.following ? "following" : "paused"
                line.append(" (" + status + ")", theme.muted)
            }
        }
        line.render(in: row, into: &buffer)
    }
}
