import IdaTerminal

extension LayerView {
    /// Dead components of `layer` at every logged step (NaN where the step did not report it).
    static func deadSeries(_ history: RunHistory, layer: Int) -> [Double] {
        history.steps.map { step in
            step.layers.first { $0.layer == layer }?.dead.map(Double.init) ?? .nan
        }
    }

    /// The died / reset / pulled / revived events of `layer`, oldest first.
    static func events(_ history: RunHistory, layer: Int) -> [RunHistory.ReactivationRecord] {
        history.reactivations.filter { $0.layer == layer }
    }

    /// A sparkline of the dead count over steps, then the newest reactivation events (newest last).
    static func renderReactivations(_ state: InspectorState, layer: Int?, theme: Theme, in area: Rect,
                                    into buffer: inout ScreenBuffer) {
        let inner = Panel.draw("reactivation" + (layer.map { theme.dot + "layer \($0)" } ?? ""), in: area,
                               theme: theme, into: &buffer)
        guard !inner.isEmpty else { return }
        guard let layer else {
            Panel.placeholder("no MoE layer yet", in: inner, style: theme.muted, mode: theme.mode, into: &buffer)
            return
        }
        let series = deadSeries(state.history, layer: layer)
        var y = inner.y
        if let now = series.last(where: { !$0.isNaN }) {
            let label = "dead \(Int(now)) "
            let x = buffer.put(label, at: inner.x, y: y, style: now > 0 ? theme.warn : theme.good, clip: inner)
            let rect = Rect(x: x, y: y, width: max(0, inner.maxX - x), height: 1)
            let peak = series.filter { !$0.isNaN }.max() ?? 0
            Sparkline(values: ViewFormat.buckets(series, count: rect.width), min: 0, max: max(1, peak),
                      style: theme.warn, mode: theme.mode).render(in: rect, into: &buffer)
            y += 1
        }
        let all = events(state.history, layer: layer)
        guard !all.isEmpty else {
            if y < inner.maxY {
                Text("no reactivation events", style: theme.muted, mode: theme.mode).render(in: inner.row(y - inner.y), into: &buffer)
            }
            return
        }
        let rows = inner.maxY - y
        guard rows > 0 else { return }
        let shown = all.count <= rows ? all[...] : all.suffix(max(0, rows - 1))
        if shown.count < all.count {
            Text(theme.ellipsis + " \(all.count - shown.count) earlier", style: theme.muted, mode: theme.mode)
                .render(in: inner.row(y - inner.y), into: &buffer)
            y += 1
        }
        let stepWidth = DisplayWidth.of("\(all.last?.step ?? 0)")
        for event in shown where y < inner.maxY {
            var line = StyledLine(mode: theme.mode)
            line.append(ViewFormat.padLeft("\(event.step)", stepWidth) + "  ", theme.muted)
            // died: bad; an intervention (reset, pulled) is not yet a recovery: warn; revived (wins
            // tokens again): good.
            let style = event.event == "died" ? theme.bad : event.event == "revived" ? theme.good : theme.warn
            line.append(ViewFormat.padRight(event.event, 8), style)
            line.append("k\(event.component) ", .plain)
            line.append("e\(event.expert)", theme.series(event.expert))
            line.append((theme.unicode ? "  π " : "  pi ") + ViewFormat.percent(event.prior), theme.muted)
            if event.event == "revived" && !event.usage.isNaN {
                line.append("  used " + ViewFormat.percent(event.usage), theme.muted)
            }
            line.render(in: inner.row(y - inner.y), into: &buffer)
            y += 1
        }
    }
}
