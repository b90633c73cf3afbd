import IdaTerminal

extension OverviewView {
    /// The load panel: a layer x expert heatmap coloured by share relative to the fair share 1/E
    /// (fair is the middle of the ramp), its legend, and CV / entropy / NLL / dead per layer.
    static func renderLoad(_ state: InspectorState, matrix: LoadMatrix?, theme: Theme, in area: Rect,
                           into buffer: inout ScreenBuffer) {
        let title = "expert load" + (matrix.map { theme.dot + $0.source } ?? "")
        let inner = Panel.draw(title, in: area, theme: theme, into: &buffer)
        guard let matrix, matrix.experts > 0 else {
            Panel.placeholder("waiting for the first snapshot" + theme.ellipsis, in: inner, style: theme.muted,
                              mode: theme.mode, into: &buffer)
            return
        }
        let grid = HeatmapGrid(inner: inner, columns: matrix.experts, labelWidth: 7, showValues: state.showValues)
        let (labelWidth, cell, room, e) = (grid.labelWidth, grid.cell, grid.room, matrix.experts)
        let decimals: Int? = state.showValues && cell >= 3 ? (cell >= 5 ? 1 : 0) : nil
        var y = inner.y
        if grid.hasHeader {
            for expert in 0..<e {
                let label = ["e\(expert)", "\(expert)"].first { DisplayWidth.of($0) < cell } ?? ""
                let selected = expert == state.selectedExpert
                buffer.put(ViewFormat.padLeft(label, cell), at: inner.x + labelWidth + expert * cell, y: y,
                           style: selected ? theme.selected : theme.muted, clip: inner)
            }
            y += 1
        }
        let fairPercent = 100 / Double(e)
        for (row, layer) in matrix.layers.enumerated() where y < inner.maxY {
            let current = layer == state.layer
            let mark = current ? (theme.unicode ? "▶" : ">") : " "
            let label = ViewFormat.padRight("\(mark) L\(layer)", labelWidth)
            buffer.put(label, at: inner.x, y: y, style: current ? theme.strong : theme.muted, clip: inner)
            let values = [matrix.loads[row].map { $0 * 100 }]
            Heatmap(values: values, range: 0...(2 * fairPercent), cellWidth: cell, labelDecimals: decimals, mode: theme.mode)
                .render(in: Rect(x: inner.x + labelWidth, y: y, width: room, height: 1), into: &buffer)
            y += 1
        }
        // Legend: the ramp from 0 through fair (middle) to twice fair.
        y += 1
        if y < inner.maxY {
            var x = buffer.put("0 ", at: inner.x, y: y, style: theme.muted, clip: inner)
            let ramp = [(0..<10).map(Double.init)]
            Heatmap(values: ramp, range: 0...9, cellWidth: 1, mode: theme.mode)
                .render(in: Rect(x: x, y: y, width: min(10, max(0, inner.maxX - x)), height: 1), into: &buffer)
            x += 10
            Text(" 2x fair; fair 1/E = \(ViewFormat.percent(1 / Double(e)))", style: theme.muted, mode: theme.mode)
                .render(in: Rect(x: x, y: y, width: max(0, inner.maxX - x), height: 1), into: &buffer)
        }
        y += 2
        let tableRows = min(matrix.layers.count + 1, max(0, inner.maxY - y))
        renderLayerTable(matrix, state: state, theme: theme,
                         in: Rect(x: inner.x, y: y, width: inner.width, height: tableRows), into: &buffer)
        y += tableRows + 1
        if let layer = state.layer ?? matrix.layers.first, inner.maxY - y >= 3 {
            renderLoadHistory(state.history, layer: layer, theme: theme,
                              in: Rect(x: inner.x, y: y, width: inner.width, height: inner.maxY - y), into: &buffer)
        }
    }

    /// The current layer's load per expert over the logged training steps, one sparkline per expert
    /// on a scale from 0 to twice the fair share.
    static func renderLoadHistory(_ history: RunHistory, layer: Int, theme: Theme, in area: Rect, into buffer: inout ScreenBuffer) {
        let records = history.steps.compactMap { step in step.layers.first { $0.layer == layer } }
        let experts = records.map(\.load.count).max() ?? 0
        guard experts > 0, !area.isEmpty else { return }
        Text("layer \(layer) load over training steps", style: theme.muted, mode: theme.mode)
            .render(in: area.row(0), into: &buffer)
        let fair = 1 / Double(experts)
        let shown = experts <= area.height - 1 ? experts : max(0, area.height - 2)
        for e in 0..<shown {
            let row = area.row(e + 1).columns([.fixed(4), .fill(1), .fixed(8)])
            buffer.put("e\(e)", at: row[0].x, y: row[0].y, style: theme.series(e), clip: row[0])
            let series = history.steps.map { step -> Double in
                guard let l = step.layers.first(where: { $0.layer == layer }), e < l.load.count else { return .nan }
                return l.load[e]
            }
            Sparkline(values: ViewFormat.buckets(series, count: row[1].width), min: 0, max: 2 * fair, style: theme.series(e),
                      mode: theme.mode).render(in: row[1], into: &buffer)
            let now = series.last { !$0.isNaN }
            Text(now.map(ViewFormat.percent) ?? "-", style: (now ?? fair) < 0.1 * fair ? theme.bad : .plain, alignment: .right,
                 mode: theme.mode).render(in: row[2], into: &buffer)
        }
        if shown < experts {
            Text(theme.ellipsis + " \(experts - shown) more", style: theme.muted, mode: theme.mode)
                .render(in: area.row(shown + 1), into: &buffer)
        }
    }

    /// One row per MoE layer: CV, mean routing entropy, NLL, dead components, and the layer's CV
    /// over the logged steps as a sparkline in whatever width is left.
    static func renderLayerTable(_ matrix: LoadMatrix, state: InspectorState, theme: Theme, in area: Rect,
                                 into buffer: inout ScreenBuffer) {
        guard !area.isEmpty else { return }
        let widths = [6, 7, 7, 8, 5]
        let fixed = widths.reduce(0, +) + 1
        let header = ViewFormat.padRight("layer", widths[0]) + zip(["CV", "H bits", "nll", "dead"], widths.dropFirst())
            .map { ViewFormat.padLeft($0.0, $0.1) }.joined() + (area.width > fixed + 4 ? " train CV over steps" : "")
        Text(header, style: theme.muted, mode: theme.mode).render(in: area.row(0), into: &buffer)
        for (row, layer) in matrix.layers.enumerated() where row + 1 < area.height {
            let cv = matrix.cvs[row]
            let dead = matrix.dead[row]
            let cells: [(String, Style)] = [
                (ViewFormat.padRight("L\(layer)", widths[0]), layer == state.layer ? theme.strong : .plain),
                (ViewFormat.padLeft(ViewFormat.fitting(cv, width: widths[1] - 1), widths[1]), cv > 1 || !cv.isFinite ? theme.warn : .plain),
                (ViewFormat.padLeft(ViewFormat.fitting(matrix.entropies[row], width: widths[2] - 1, decimals: 2), widths[2]), .plain),
                (ViewFormat.padLeft(matrix.nlls[row].map { ViewFormat.fitting($0, width: widths[3] - 1) } ?? "-", widths[3]), .plain),
                (ViewFormat.padLeft(dead.map(String.init) ?? "-", widths[4]), (dead ?? 0) > 0 ? theme.warn : .plain),
            ]
            let rect = area.row(row + 1)
            StyledLine(cells, mode: theme.mode).render(in: rect, into: &buffer)
            let trend = state.history.steps.map { step in step.layers.first { $0.layer == layer }?.cv ?? .nan }
            let spark = rect.inset(left: fixed)
            guard spark.width >= 4, trend.contains(where: { !$0.isNaN }) else { continue }
            Sparkline(values: ViewFormat.buckets(trend, count: spark.width), min: 0, max: max(1, trend.filter(\.isFinite).max() ?? 1), style: Style(fg: theme.seriesColor(4)),
                      mode: theme.mode).render(in: spark, into: &buffer)
        }
    }
}
