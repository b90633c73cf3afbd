import IdaRouting
import IdaTerminal

/// Screen 1: expert load per MoE layer (heatmap and per-layer figures), training curves
/// (train and held-out CV, loss, validation bits per byte) and the alerts panel.
enum OverviewView {
    /// Lays out the three panels over `area`.
    static func render(_ state: InspectorState, theme: Theme, in area: Rect, into buffer: inout ScreenBuffer) {
        let alerts = Alert.all(for: state, ellipsis: theme.ellipsis)
        let matrix = LoadMatrix.from(state)
        let parts = layout(state, matrix: matrix, alerts: alerts.count, area: area)
        OverviewView.renderLoad(state, matrix: matrix, theme: theme, in: parts.load, into: &buffer)
        renderCurves(state.history, theme: theme, live: state.live, note: state.trainingNote, lossUnit: state.lossUnit,
                     in: parts.curves, into: &buffer)
        renderAlerts(alerts, theme: theme, in: parts.alerts, into: &buffer)
    }

    /// Where the load, curves and alerts panels go; rendering and hit-testing share it.
    static func layout(_ state: InspectorState, matrix: LoadMatrix?, alerts: Int, area: Rect)
        -> (load: Rect, curves: Rect, alerts: Rect) {
        let alertRows = min(max(3, alerts + 2), max(4, area.height / 3))
        let parts = area.rows([.fill(1), .fixed(alertRows)])
        let wanted = 9 + (matrix?.experts ?? 8) * (state.showValues ? 5 : 4)
        // Wide enough for the layer table's columns (six more with the what-if's "after").
        let least = 46 + (state.expertParallel.active && state.expertParallel.redundant != nil ? 6 : 0)
        let left = min(max(wanted, least), parts[0].width * 11 / 20)
        let top = parts[0].columns([.fixed(left), .fill(1)])
        return (top[0], top[1], parts[1])
    }

    /// The training curves panel: three stacked sections with the current value in each header.
    static func renderCurves(_ history: RunHistory, theme: Theme, live: Bool, note: String? = nil,
                             lossUnit: LossUnit = .natsPerByte, in area: Rect, into buffer: inout ScreenBuffer) {
        let inner = Panel.draw("training", in: area, theme: theme, into: &buffer)
        guard history.latest != nil else {
            let text = note ?? (live ? "waiting for the first training step" + theme.ellipsis : "no training log (static checkpoint)")
            Panel.placeholder(text, in: inner, style: theme.muted, mode: theme.mode, into: &buffer)
            return
        }
        if let note, history.evals.isEmpty, history.steps.allSatisfy({ $0.loss == nil }) {
            // Recorded routing (an import): loads and CVs per step, no loss or evaluation to plot.
            let parts = inner.rows([.fill(1), .fixed(1)])
            renderCV(history, theme: theme, in: parts[0], into: &buffer)
            Text(note, style: theme.muted, mode: theme.mode).render(in: parts[1], into: &buffer)
            return
        }
        let sections = inner.rows([.fill(1), .fill(1), .fill(1)])
        renderCV(history, theme: theme, in: sections[0], into: &buffer)
        let loss = history.latestLoss?.loss
        let lossText = loss.map(ViewFormat.fixed3) ?? "-"
        let lossStyle = loss?.isFinite ?? true ? theme.strong : theme.bad
        renderCurve(header: [("loss ", theme.muted), (lossText, lossStyle), (" " + lossUnit.rawValue, theme.muted)],
                    values: history.steps.compactMap(\.loss), color: theme.seriesColor(2), theme: theme,
                    in: sections[1], into: &buffer)
        guard let eval = history.evals.last(where: { $0.bitsPerByte.isFinite }) else {
            StyledLine([("val bits/byte ", theme.muted), ("no eval yet", theme.muted)], mode: theme.mode)
                .render(in: sections[2], into: &buffer)
            return
        }
        let best = history.evals.map(\.bitsPerByte).filter(\.isFinite).min()
        var header: [(String, Style)] = [("val bits/byte ", theme.muted), (ViewFormat.fixed3(eval.bitsPerByte), theme.strong),
                                         ("  step \(eval.step)", theme.muted)]
        if let best { header.append(("  best \(ViewFormat.fixed3(best))", theme.muted)) }
        renderCurve(header: header, values: history.evals.map(\.bitsPerByte).filter(\.isFinite), color: theme.seriesColor(3),
                    theme: theme, in: sections[2], into: &buffer)
    }

    /// The two CVs: a header with the train CV (training batch, top-k) and the held-out CV (the
    /// newest eval's top-k CVmean over the validation tokens, with top-1 and gate-weighted where
    /// there is room), then both curves over the steps: train dotted, held-out solid.
    static func renderCV(_ history: RunHistory, theme: Theme, in area: Rect, into buffer: inout ScreenBuffer) {
        guard !area.isEmpty, let latest = history.latest else { return }
        let trainColor = theme.seriesColor(4), heldoutColor = theme.seriesColor(0)
        let eval = history.latestHeldout
        // The widest header that fits: with the steps and held-out top-1 / gate, without them, bare.
        let batchVio = latest.maxVioMean
        func header(steps: Bool, detail: Bool, names: (String, String), vio: Bool = true) -> StyledLine {
            var line = StyledLine(mode: theme.mode)
            line.append(StepPlot.swatch(dotted: true, unicode: theme.unicode) + " ", Style(fg: trainColor))
            line.append(names.0 + " ", theme.muted)
            line.append(ViewFormat.fixed3(latest.cvMean), latest.cvMean > 1 || !latest.cvMean.isFinite ? theme.warn : theme.strong)
            if vio, let batchVio { line.append(" MaxVio " + ViewFormat.fixed3(batchVio), theme.muted) }
            if steps { line.append(" batch @\(latest.step)", theme.muted) }
            line.append("  ")
            line.append(StepPlot.swatch(dotted: false, unicode: theme.unicode) + " ", Style(fg: heldoutColor))
            line.append(names.1 + " ", theme.muted)
            guard let e = eval else {
                line.append("none logged", theme.muted)
                return line
            }
            line.append(e.heldoutTopK.map(ViewFormat.fixed3) ?? "-", (e.heldoutTopK ?? 0) > 1 ? theme.warn : theme.strong)
            if vio, let v = e.heldoutMaxVioTopK { line.append(" MaxVio " + ViewFormat.fixed3(v), theme.muted) }
            if steps { line.append(" @\(e.step)", theme.muted) }
            if detail {
                line.append(" top-1 " + (e.heldoutTop1.map(ViewFormat.fixed3) ?? "-") + " gate "
                            + (e.heldoutGate.map(ViewFormat.fixed3) ?? "-"), theme.muted)
            }
            return line
        }
        let full = ("train CV", "held-out CV")
        let choices = [header(steps: true, detail: true, names: full), header(steps: true, detail: false, names: full),
                       header(steps: false, detail: false, names: full),
                       header(steps: false, detail: false, names: full, vio: false),
                       header(steps: false, detail: false, names: ("train", "held-out"), vio: false)]
        (choices.first { $0.width <= area.width } ?? choices[choices.count - 1]).render(in: area.row(0), into: &buffer)
        let plotArea = area.inset(top: 1)
        guard !plotArea.isEmpty else { return }
        var curves = StepPlot.cvCurves(history, color: heldoutColor)
        curves[0].color = trainColor
        let chart = StepPlot(curves: curves)
        let top = NumberText.compact(chart.top)
        let labelWidth = max(DisplayWidth.of(top), 1)
        guard plotArea.height >= 2, plotArea.width >= labelWidth + 3 else {
            chart.render(in: plotArea, mode: theme.mode, into: &buffer)
            return
        }
        let parts = plotArea.columns([.fixed(labelWidth), .fixed(1), .fill(1)])
        Text(top, style: theme.muted, alignment: .right, mode: theme.mode).render(in: parts[0].row(0), into: &buffer)
        Text("0", style: theme.muted, alignment: .right, mode: theme.mode).render(in: parts[0].row(plotArea.height - 1), into: &buffer)
        for y in parts[1].minY..<parts[1].maxY {
            let end = y == parts[1].minY || y == parts[1].maxY - 1
            buffer.put(theme.unicode ? (end ? "┤" : "│") : (end ? "+" : "|"), at: parts[1].x, y: y, style: theme.muted, clip: parts[1])
        }
        chart.render(in: parts[2], mode: theme.mode, into: &buffer)
    }

    /// A header line, then the series as a line chart (two rows or more) or a sparkline (one row).
    static func renderCurve(header: [(String, Style)], values: [Double], color: Color, theme: Theme,
                            in area: Rect, into buffer: inout ScreenBuffer) {
        guard !area.isEmpty else { return }
        StyledLine(header, mode: theme.mode).render(in: area.row(0), into: &buffer)
        let plot = area.inset(top: 1)
        guard !plot.isEmpty, !values.isEmpty else { return }
        if plot.height >= 2 {
            let chartValues = ViewFormat.buckets(values, count: max(2, plot.width * 2))
            LineChart(series: [ChartSeries(values: chartValues, color: color)], axisStyle: theme.muted, mode: theme.mode)
                .render(in: plot, into: &buffer)
        } else {
            Sparkline(values: ViewFormat.buckets(values, count: plot.width), style: Style(fg: color), mode: theme.mode)
                .render(in: plot, into: &buffer)
        }
    }

    /// The alerts panel: one line per alert with a severity marker, "… N more" when cut.
    static func renderAlerts(_ alerts: [Alert], theme: Theme, in area: Rect, into buffer: inout ScreenBuffer) {
        let inner = Panel.draw("alerts", in: area, theme: theme, into: &buffer)
        guard !inner.isEmpty else { return }
        let fits = alerts.count <= inner.height ? alerts.count : max(0, inner.height - 1)
        for (i, alert) in alerts.prefix(fits).enumerated() {
            let (mark, style): (String, Style)
            switch alert.level {
            case .error: (mark, style) = (theme.errorMark, theme.bad)
            case .warning: (mark, style) = (theme.warnMark, theme.warn)
            case .info: (mark, style) = (theme.infoMark, theme.info)
            case .ok: (mark, style) = (theme.infoMark, theme.good)
            }
            StyledLine([(mark + " ", style), (alert.text, alert.level == .ok ? theme.good : .plain)], mode: theme.mode)
                .render(in: inner.row(i), into: &buffer)
        }
        if fits < alerts.count {
            Text(theme.ellipsis + " \(alerts.count - fits) more", style: theme.muted, mode: theme.mode)
                .render(in: inner.row(fits), into: &buffer)
        }
    }
}
