import IdaTerminal

/// Screen 5: the run's snapshots with their validation bits per byte and CV mean (selected one
/// highlighted, pinned one marked), and CV mean over every step with the selection marked.
enum TimelineView {
    /// One snapshot's row.
    struct Row: Equatable {
        /// Snapshot step.
        var step: Int
        /// Bits per byte of the nearest validation pass, and that pass's step.
        var eval: (step: Int, bitsPerByte: Double)?
        /// CV mean logged at the step (or the last step before it).
        var cvMean: Double?
        /// Training loss logged at the step (or the last step before it).
        var loss: Double?
        /// Dead components over all MoE layers at the step, when logged.
        var dead: Int?

        /// Rows are equal when every figure is.
        static func == (a: Row, b: Row) -> Bool {
            a.step == b.step && a.eval?.step == b.eval?.step && a.eval?.bitsPerByte == b.eval?.bitsPerByte
                && a.cvMean == b.cvMean && a.loss == b.loss && a.dead == b.dead
        }
    }

    /// One row per snapshot, ascending (data only).
    static func rows(_ state: InspectorState) -> [Row] {
        let history = state.history
        return state.snapshots.map { s in
            var nearest: (step: Int, bitsPerByte: Double)?
            for e in history.evals where nearest == nil || abs(e.step - s) < abs((nearest?.step ?? 0) - s) { nearest = e }
            let record = history.steps.last { $0.step <= s }
            let dead = record.flatMap { r in r.layers.contains { $0.dead != nil } ? r.layers.reduce(0) { $0 + ($1.dead ?? 0) } : nil }
            return Row(step: s, eval: nearest, cvMean: record?.cvMean, loss: record?.loss, dead: dead)
        }
    }

    /// Lays out the list and the curve panel over `area`.
    static func render(_ state: InspectorState, theme: Theme, in area: Rect, into buffer: inout ScreenBuffer) {
        let parts = area.rows([.fill(1), .fixed(min(7, area.height / 2))])
        renderList(state, theme: theme, in: parts[0], into: &buffer)
        renderCurve(state, theme: theme, in: parts[1], into: &buffer)
    }

    /// The snapshot table, scrolled so the selected row is visible.
    static func renderList(_ state: InspectorState, theme: Theme, in area: Rect, into buffer: inout ScreenBuffer) {
        let all = rows(state)
        let inner = Panel.draw("snapshots (\(all.count))", in: area, theme: theme, into: &buffer)
        guard !inner.isEmpty else { return }
        guard !all.isEmpty else {
            Panel.placeholder("no snapshots yet", in: inner, style: theme.muted, mode: theme.mode, into: &buffer)
            return
        }
        let pinned = state.pinnedStep.flatMap { p in all.first { $0.step == p } }
        let columns = ["step", "val bpb", "eval step", "loss", "CV mean", "dead"] + (pinned == nil ? [] : ["vs pin"])
        Text("   " + columns.map { ViewFormat.padLeft($0, 10) }.joined(), style: theme.muted, mode: theme.mode)
            .render(in: inner.row(0), into: &buffer)
        let visible = inner.height - 1
        guard visible > 0 else { return }
        let selected = all.firstIndex { $0.step == state.selectedStep } ?? (all.count - 1)
        let first = min(max(0, selected - (visible - 1) / 2), max(0, all.count - visible))
        for (offset, row) in all[first..<min(all.count, first + visible)].enumerated() {
            let index = first + offset
            let rect = inner.row(offset + 1)
            let isSelected = index == selected
            if isSelected { buffer.fill(rect, style: theme.selected) }
            var line = StyledLine(mode: theme.mode)
            let base: Style = isSelected ? theme.selected : .plain
            line.append(row.step == state.pinnedStep ? theme.pinMark : " ", isSelected ? base : theme.info)
            line.append(state.analyzing == row.step ? (theme.unicode ? "…" : "~") : " ", base)
            line.append(" ", base)
            line.append(ViewFormat.padLeft("\(row.step)", 10), base)
            line.append(ViewFormat.padLeft(row.eval.map { ViewFormat.fixed3($0.bitsPerByte) } ?? "-", 10), base)
            line.append(ViewFormat.padLeft(row.eval.map { "\($0.step)" } ?? "", 10), isSelected ? base : theme.muted)
            line.append(ViewFormat.padLeft(row.loss.map(ViewFormat.fixed3) ?? "-", 10), base)
            line.append(ViewFormat.padLeft(row.cvMean.map(ViewFormat.fixed3) ?? "-", 10),
                        isSelected ? base : (row.cvMean ?? 0) > 1 ? theme.warn : .plain)
            line.append(ViewFormat.padLeft(row.dead.map(String.init) ?? "-", 10), isSelected ? base : (row.dead ?? 0) > 0 ? theme.warn : .plain)
            if let pin = pinned?.eval?.bitsPerByte {
                let delta = row.eval.map { $0.bitsPerByte - pin }
                let text = delta.map { ($0 > 0 ? "+" : "") + ViewFormat.fixed3($0) } ?? "-"
                let style = isSelected ? base : (delta ?? 0) > 0 ? theme.bad : (delta ?? 0) < 0 ? theme.good : .plain
                line.append(ViewFormat.padLeft(text, 10), style)
            }
            line.render(in: rect, into: &buffer)
        }
    }
}
