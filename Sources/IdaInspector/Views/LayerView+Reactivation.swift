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

    /// How many events of each kind `layer` logged, in the order the panel names them: died, the
    /// interventions (reset, pulled; pulled only when logged) and revived.
    static func counts(_ events: [RunHistory.ReactivationRecord]) -> [(kind: String, count: Int)] {
        let kinds = ["died", "reset"] + (events.contains { $0.event == "pulled" } ? ["pulled"] : []) + ["revived"]
        return kinds.map { kind in (kind, events.count(where: { $0.event == kind })) }
    }

    /// The style of an event kind: died bad; an intervention (reset, pulled) is not yet a recovery:
    /// warn; revived (wins tokens again) good.
    static func style(of kind: String, theme: Theme) -> Style {
        kind == "died" ? theme.bad : kind == "revived" ? theme.good : theme.warn
    }

    /// A header line with the layer's event counts (died / reset / pulled / revived), a sparkline of
    /// the dead count over steps, then the newest reactivation events (newest last).
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
        let all = events(state.history, layer: layer)
        var y = inner.y
        if !all.isEmpty {
            // "died 2 · reset 1 · revived 1", tighter ("died 2 rst 1 rev 1") where that does not fit.
            let short = ["reset": "rst", "pulled": "pull", "revived": "rev"]
            let lines = [(theme.dot, false), (" ", false), (" ", true)].map { gap, abbreviate in
                var line = StyledLine(mode: theme.mode)
                for (i, c) in counts(all).enumerated() {
                    if i > 0 { line.append(gap, theme.muted) }
                    line.append((abbreviate ? short[c.kind] ?? c.kind : c.kind) + " ", theme.muted)
                    line.append("\(c.count)", c.count > 0 ? style(of: c.kind, theme: theme) : .plain)
                }
                return line
            }
            (lines.first { $0.width <= inner.width } ?? lines[lines.count - 1]).render(in: inner.row(0), into: &buffer)
            y += 1
        }
        if let now = series.last(where: { !$0.isNaN }), y < inner.maxY {
            // Named apart from the components panel's "dead on the probe" where there is room.
            let full = "dead in training \(Int(now)) "
            let label = full.count + 6 <= inner.width ? full : "dead \(Int(now)) "
            let x = buffer.put(label, at: inner.x, y: y, style: now > 0 ? theme.warn : theme.good, clip: inner)
            let rect = Rect(x: x, y: y, width: max(0, inner.maxX - x), height: 1)
            let peak = series.filter { !$0.isNaN }.max() ?? 0
            Sparkline(values: ViewFormat.buckets(series, count: rect.width), min: 0, max: max(1, peak),
                      style: theme.warn, mode: theme.mode).render(in: rect, into: &buffer)
            y += 1
        }
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
            line.append(ViewFormat.padRight(event.event, 8), style(of: event.event, theme: theme))
            line.append("k\(event.component) ", .plain)
            line.append("e\(event.expert)", theme.series(event.expert))
            line.append((theme.unicode ? "  π " : "  pi ") + NumberText.percent(event.prior), theme.muted)
            if event.event == "revived" && !event.usage.isNaN {
                line.append("  used " + NumberText.percent(event.usage), theme.muted)
            }
            line.render(in: inner.row(y - inner.y), into: &buffer)
            y += 1
        }
    }
}
