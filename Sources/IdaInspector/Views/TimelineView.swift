import IdaTerminal

/// Screen 5: the run's snapshots with their validation bits per byte, train CV and held-out CV
/// (selected one highlighted, pinned one marked), and both CVs over the steps with the selection
/// marked (and B's curves when B is another run).
enum TimelineView {
    /// One snapshot's row.
    struct Row: Equatable {
        /// Snapshot step.
        var step: Int
        /// The nearest validation pass (bits per byte, held-out CV).
        var eval: RunHistory.EvalRecord?
        /// Train CV (training batch, top-k) logged at the step (or the last step before it).
        var cvMean: Double?
        /// Training loss logged at the step (or the last step before it).
        var loss: Double?
        /// Dead components over all MoE layers at the step, when logged.
        var dead: Int?
    }

    /// One row per snapshot, ascending (data only).
    static func rows(_ state: InspectorState) -> [Row] {
        let history = state.history
        return state.snapshots.map { s in
            var nearest: RunHistory.EvalRecord?
            for e in history.evals where nearest == nil || abs(e.step - s) < abs((nearest?.step ?? 0) - s) { nearest = e }
            let record = history.steps.last { $0.step <= s }
            let dead = record.flatMap { r in r.layers.contains { $0.dead != nil } ? r.layers.reduce(0) { $0 + ($1.dead ?? 0) } : nil }
            return Row(step: s, eval: nearest, cvMean: record?.cvMean, loss: record?.loss ?? nil, dead: dead)
        }
    }

    /// Lays out the list and the curve panel over `area`.
    static func render(_ state: InspectorState, theme: Theme, in area: Rect, into buffer: inout ScreenBuffer) {
        let height = curveHeight(area, runs: curveRuns(state, theme: theme).count, tableRows: state.snapshots.count)
        let parts = area.rows([.fill(1), .fixed(height)])
        renderList(state, theme: theme, in: parts[0], into: &buffer)
        renderCurve(state, theme: theme, in: parts[1], into: &buffer)
    }

    /// Rows of the curve panel in a body of `area` (one legend row per run): up to half the body, and
    /// whatever a table of `tableRows` snapshots leaves beyond that.
    static func curveHeight(_ area: Rect, runs: Int, tableRows: Int) -> Int {
        let least = min(10 + runs, area.height / 2)
        return max(least, min(area.height - 6, area.height - (tableRows + 3)))
    }

    /// A column of the snapshot table: header, width and the cell of a row.
    struct Column {
        var header: String
        var width: Int
        var cell: (Row) -> String
        var warn: (Row) -> Bool = { _ in false }
    }

    /// The table's columns for an inner `width`: step, val bpb, eval step, loss, train CV, held-out CV,
    /// dead; held-out top-1 and gate-weighted CV when there is room; eval step, loss, dead and val bpb
    /// left out in that order when there is not.
    static func columns(width: Int) -> [Column] {
        func cv(_ v: Double?) -> String { v.map(ViewFormat.fixed3) ?? "-" }
        var all = [
            Column(header: "step", width: 8) { "\($0.step)" },
            Column(header: "val bpb", width: 9) { $0.eval.map { ViewFormat.fixed3($0.bitsPerByte) } ?? "-" },
            Column(header: "eval step", width: 10) { $0.eval.map { "\($0.step)" } ?? "" },
            Column(header: "loss", width: 8) { $0.loss.map(ViewFormat.fixed3) ?? "-" },
            Column(header: "train CV", width: 10, cell: { cv($0.cvMean) }, warn: { ($0.cvMean ?? 0) > 1 }),
            Column(header: "held-out CV", width: 12, cell: { cv($0.eval?.heldoutTopK) }, warn: { ($0.eval?.heldoutTopK ?? 0) > 1 }),
            Column(header: "dead", width: 6, cell: { $0.dead.map(String.init) ?? "-" }, warn: { ($0.dead ?? 0) > 0 }),
        ]
        let extra = [Column(header: "top-1", width: 7, cell: { cv($0.eval?.heldoutTop1) }),
                     Column(header: "gate", width: 7, cell: { cv($0.eval?.heldoutGate) })]
        var used = 3 + all.reduce(0) { $0 + $1.width } + 10  // room kept for "vs pin"
        for column in extra where used + column.width <= width {
            all.insert(column, at: all.count - 1)
            used += column.width
        }
        for header in ["eval step", "loss", "dead", "val bpb"] where used - 10 > width {
            guard let i = all.firstIndex(where: { $0.header == header }) else { continue }
            used -= all.remove(at: i).width
        }
        return all
    }

    /// The snapshot table, scrolled so the selected row is visible.
    static func renderList(_ state: InspectorState, theme: Theme, in area: Rect, into buffer: inout ScreenBuffer) {
        let all = rows(state)
        let inner = Panel.draw("snapshots (\(all.count))" + theme.dot + "train CV: training batch"
                               + theme.dot + "held-out CV: validation tokens at the eval (top-k, top-1, gate)",
                               in: area, theme: theme, into: &buffer)
        guard !inner.isEmpty else { return }
        guard !all.isEmpty else {
            Panel.placeholder("no snapshots yet", in: inner, style: theme.muted, mode: theme.mode, into: &buffer)
            return
        }
        let pinned = state.pinnedStep.flatMap { p in all.first { $0.step == p } }
        let table = columns(width: inner.width)
        let headers = table.map { ViewFormat.padLeft($0.header, $0.width) } + (pinned == nil ? [] : [ViewFormat.padLeft("vs pin", 10)])
        Text("   " + headers.joined(), style: theme.muted, mode: theme.mode)
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
            for column in table {
                let style = isSelected ? base : column.header == "eval step" ? theme.muted : column.warn(row) ? theme.warn : .plain
                line.append(ViewFormat.padLeft(column.cell(row), column.width), style)
            }
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
