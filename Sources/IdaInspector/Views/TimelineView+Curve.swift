import IdaTerminal

extension TimelineView {
    /// One run's curves on the Timeline plot: its label, history and colour.
    struct CurveRun {
        /// "A runs/x" when there are two runs, else the run's title.
        var label: String
        /// Its event log.
        var history: RunHistory
        /// The colour of its held-out CV curve.
        var color: Color
        /// The colour of its train CV curve.
        var trainColor: Color

        /// Its two curves (train dotted, held-out solid).
        var curves: [StepPlot.Curve] {
            var curves = StepPlot.cvCurves(history, color: color)
            curves[0].color = trainColor
            return curves
        }
    }

    /// The runs whose CVs the Timeline plots: the shown one and, when B is another run whose log was
    /// read, B (the same plot: each run in its own colour; alone, the Overview's colours).
    static func curveRuns(_ state: InspectorState, theme: Theme) -> [CurveRun] {
        guard let c = state.comparison, let history = c.bHistory else {
            return [CurveRun(label: state.title, history: state.history, color: theme.seriesColor(0), trainColor: theme.seriesColor(4))]
        }
        return [CurveRun(label: "A " + state.title, history: state.history, color: theme.seriesColor(0), trainColor: theme.seriesColor(0)),
                CurveRun(label: "B " + c.label, history: history, color: theme.seriesColor(1), trainColor: theme.seriesColor(1))]
    }

    /// Train CV (dotted) and held-out CV (solid) over the steps for each run, a legend line per run,
    /// markers under the selected and pinned steps, and the follow / pause hint from the key table.
    static func renderCurve(_ state: InspectorState, theme: Theme, in area: Rect, into buffer: inout ScreenBuffer) {
        let runs = curveRuns(state, theme: theme)
        let inner = Panel.draw("CV over steps" + theme.dot + "train CV (batch) vs held-out CV (top-k)", in: area, theme: theme,
                               into: &buffer)
        guard !inner.isEmpty else { return }
        let hintRow = inner.row(inner.height - 1)
        renderFollowHint(state, theme: theme, in: hintRow, into: &buffer)
        let steps = state.history.steps
        guard inner.height >= 3, runs.contains(where: { !$0.history.steps.isEmpty || !$0.history.evals.isEmpty }) else {
            if inner.height >= 2 {
                Text("no steps logged", style: theme.muted, mode: theme.mode).render(in: inner.row(0), into: &buffer)
            }
            return
        }
        // Legend rows while the plot keeps a row, then the plot, the marker row and the hint.
        let legendRows = min(runs.count, max(0, inner.height - 3))
        for (i, run) in runs.prefix(legendRows).enumerated() {
            legend(run, labelled: runs.count > 1, width: inner.width, theme: theme).render(in: inner.row(i), into: &buffer)
        }
        let labelWidth = 7
        let plotHeight = inner.height - 2 - legendRows
        let plot = Rect(x: inner.x + labelWidth, y: inner.y + legendRows, width: max(0, inner.width - labelWidth), height: max(0, plotHeight))
        let chart = StepPlot(curves: runs.flatMap(\.curves))
        if plot.height > 0 {
            Text(ViewFormat.fixed2(chart.top), style: theme.muted, alignment: .right, mode: theme.mode)
                .render(in: Rect(x: inner.x, y: plot.y, width: labelWidth - 1, height: 1), into: &buffer)
            if plot.height > 1 {
                Text("0", style: theme.muted, alignment: .right, mode: theme.mode)
                    .render(in: Rect(x: inner.x, y: plot.maxY - 1, width: labelWidth - 1, height: 1), into: &buffer)
            }
            if plot.height >= 7 {  // the middle of the scale, on the row whose dots straddle it
                Text(ViewFormat.fixed2(chart.top / 2), style: theme.muted, alignment: .right, mode: theme.mode)
                    .render(in: Rect(x: inner.x, y: plot.y + (plot.height * 4 - 1) / 8, width: labelWidth - 1, height: 1), into: &buffer)
            }
            chart.render(in: plot, mode: theme.mode, into: &buffer)
        }
        let markerRow = Rect(x: plot.x, y: plot.maxY, width: plot.width, height: 1)
        guard markerRow.width > 0 else { return }
        let range = chart.steps
        buffer.put("\(range.lowerBound)", at: inner.x, y: markerRow.y, style: theme.muted, clip: Rect(x: inner.x, y: markerRow.y, width: labelWidth - 1, height: 1))
        let last = "\(range.upperBound)"
        func column(of step: Int) -> Int? {
            guard !steps.isEmpty || !state.history.evals.isEmpty else { return nil }
            return chart.column(of: step, width: plot.width)
        }
        var lastX = markerRow.maxX - DisplayWidth.of(last)
        if let pinned = state.pinnedStep, let c = column(of: pinned) {
            buffer.put(theme.pinMark, at: markerRow.x + c, y: markerRow.y, style: theme.info, clip: markerRow)
        }
        if let selected = state.selectedStep, let c = column(of: selected) {
            // The caret sits under the step's column, its label on whichever side has room.
            let left = "\(theme.caret) step \(selected)"
            let right = "step \(selected) \(theme.caret)"
            let w = DisplayWidth.of(left)
            let fitsRight = c + w <= markerRow.width
            let x = fitsRight ? markerRow.x + c : max(markerRow.x, markerRow.x + c - w + 1)
            buffer.put(fitsRight ? left : right, at: x, y: markerRow.y, style: theme.strong, clip: markerRow)
            if x + w + 1 > lastX { lastX = markerRow.maxX }  // the step-axis end label only where it does not collide
        }
        if lastX < markerRow.maxX {
            buffer.put(last, at: lastX, y: markerRow.y, style: theme.muted, clip: markerRow)
        }
    }

    /// "A runs/x  ── held-out CV 0.258 @1200 (top-1 0.264, gate 0.263, MaxVio 0.61)  ⠂⠂ train CV 0.210 (batch, MaxVio 0.52) @1200"
    /// (the run's label only when two runs share the plot; the top-1 and gate figures when they fit `width`).
    static func legend(_ run: CurveRun, labelled: Bool, width: Int, theme: Theme) -> StyledLine {
        func line(detail: Bool) -> StyledLine {
            var line = StyledLine(mode: theme.mode)
            if labelled { line.append(run.label + "  ", theme.strong) }
            line.append(StepPlot.swatch(dotted: false, unicode: theme.unicode) + " ", Style(fg: run.color))
            if let e = run.history.latestHeldout {
                line.append("held-out CV ", theme.muted)
                line.append(e.heldoutTopK.map(ViewFormat.fixed3) ?? "-", (e.heldoutTopK ?? 0) > 1 ? theme.warn : theme.strong)
                line.append(" @\(e.step)", theme.muted)
                if detail {
                    line.append(" (top-1 " + (e.heldoutTop1.map(ViewFormat.fixed3) ?? "-") + ", gate "
                                + (e.heldoutGate.map(ViewFormat.fixed3) ?? "-")
                                + (e.heldoutMaxVioTopK.map { ", MaxVio " + ViewFormat.fixed3($0) } ?? "") + ")", theme.muted)
                }
            } else {
                line.append("held-out CV: none logged", theme.muted)
            }
            line.append("  ")
            line.append(StepPlot.swatch(dotted: true, unicode: theme.unicode) + " ", Style(fg: run.trainColor))
            if let s = run.history.latest {
                line.append("train CV ", theme.muted)
                line.append(ViewFormat.fixed3(s.cvMean), s.cvMean > 1 || !s.cvMean.isFinite ? theme.warn : theme.strong)
                line.append(" (batch" + (detail ? s.maxVioMean.map { ", MaxVio " + ViewFormat.fixed3($0) } ?? "" : "") + ") @\(s.step)", theme.muted)
            } else {
                line.append("train CV: no steps", theme.muted)
            }
            return line
        }
        let full = line(detail: true)
        return full.width <= width ? full : line(detail: false)
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
