import IdaNumerics
import IdaTerminal

extension OverviewView {
    /// The load panel: a layer x expert heatmap coloured by share relative to the fair share 1/E
    /// (fair is the middle of the ramp), its legend, and CV / entropy / NLL / dead per layer.
    static func renderLoad(_ state: InspectorState, matrix: LoadMatrix?, theme: Theme, in area: Rect,
                           into buffer: inout ScreenBuffer) {
        let title = "expert load" + (matrix.map { theme.dot + $0.source } ?? "")
        let inner = Panel.draw(title, in: area, theme: theme, into: &buffer)
        guard let matrix, matrix.experts > 0 else {
            Panel.placeholder(ViewFormat.waiting(state, ellipsis: theme.ellipsis), in: inner, style: theme.muted,
                              mode: theme.mode, into: &buffer)
            return
        }
        let layout = LoadGrid(matrix: matrix, state: state, inner: inner)
        let grid = layout.grid
        let (labelWidth, cell, room, e) = (grid.labelWidth, grid.cell, grid.room, matrix.experts)
        let decimals: Int? = state.showValues && layout.group == 1 && cell >= 3 ? (cell >= 5 ? 1 : 0) : nil
        var y = inner.y
        if grid.hasHeader {
            for (column, expert) in layout.experts.enumerated() where layout.group == 1 {
                let label = ["e\(expert)", "\(expert)"].first { DisplayWidth.of($0) < cell } ?? ""
                let selected = expert == state.selectedExpert
                buffer.put(ViewFormat.padLeft(label, cell), at: inner.x + labelWidth + column * cell, y: y,
                           style: selected ? theme.selected : theme.muted, clip: inner)
            }
            y += 1
        }
        for position in layout.rows.range where y < inner.maxY {
            let row = layout.rowOrder[position]
            let layer = matrix.layers[row]
            let current = layer == state.layer
            let mark = current ? (theme.unicode ? "▶" : ">") : " "
            let label = ViewFormat.padRight("\(mark) L\(layer)", labelWidth)
            buffer.put(label, at: inner.x, y: y, style: current ? theme.strong : theme.muted, clip: inner)
            let load = matrix.loads[row]
            let fairPercent = 100 / Double(max(1, load.count))  // per row: layers may differ in E
            let values = [(0..<grid.columns).map { column in
                layout.representative(row: row, column: column, matrix: matrix).map { load[$0] * 100 } ?? .nan
            }]
            let rect = Rect(x: inner.x + labelWidth, y: y, width: room, height: 1)
            Heatmap(values: values, range: 0...(2 * fairPercent), cellWidth: cell, labelDecimals: decimals, mode: theme.mode)
                .render(in: rect, into: &buffer)
            if current, let selected = state.selectedExpert,
               let column = layout.experts.firstIndex(of: selected).map({ $0 / layout.group }) {
                Self.markCell(x: rect.x + column * cell, width: cell, y: y, clip: rect, into: &buffer)
            }
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
            let uniform = Set(matrix.loads.map(\.count)).count <= 1
            Text(" 2x fair; fair 1/E = " + (uniform ? NumberText.percent(1 / Double(e)) : "per layer's E"), style: theme.muted,
                 mode: theme.mode)
                .render(in: Rect(x: x, y: y, width: max(0, inner.maxX - x), height: 1), into: &buffer)
        }
        y += 1
        if y < inner.maxY {
            let line = positionLine(layout, matrix: matrix, state: state, theme: theme)
            line.render(in: Rect(x: inner.x, y: y, width: inner.width, height: 1), into: &buffer)
        }
        y += 1
        // A header, a row per layer and, with several layers, their quantiles (one line or two);
        // With expert parallelism one more: the rank that stalls.
        let tableRows = min(matrix.layers.count + (matrix.layers.count > 1 ? 3 : 1) + (state.expertParallel.active ? 1 : 0),
                            max(0, inner.maxY - y))
        renderLayerTable(matrix, order: layout.rowOrder, focus: layout.rowOrder.firstIndex { matrix.layers[$0] == state.layer } ?? 0,
                         state: state, theme: theme,
                         in: Rect(x: inner.x, y: y, width: inner.width, height: tableRows), into: &buffer)
        y += tableRows + 1
        if let layer = state.layer ?? matrix.layers.first, inner.maxY - y >= 3 {
            renderLoadHistory(state.history, layer: layer, selected: state.selectedExpert, theme: theme,
                              in: Rect(x: inner.x, y: y, width: inner.width, height: inner.maxY - y), into: &buffer)
        }
    }

    /// Under the legend: which layers are on screen, how many experts share a cell, and the selected
    /// expert's exact share on the shown layer (empty when everything fits and nothing is selected).
    static func positionLine(_ layout: LoadGrid, matrix: LoadMatrix, state: InspectorState, theme: Theme) -> StyledLine {
        var line = StyledLine(mode: theme.mode)
        if let e = state.selectedExpert, let layer = state.layer, let row = matrix.layers.firstIndex(of: layer),
           e < matrix.loads[row].count {
            line.append("L\(layer) e\(e) " + NumberText.percent(matrix.loads[row][e]), theme.selected)
            line.append(" ", .plain)
        }
        var parts: [String] = []
        let rows = layout.rows.label("layers", unicode: theme.unicode)
        if !rows.isEmpty { parts.append(rows) }
        if layout.group > 1 { parts.append("\(layout.group)/cell, furthest from fair") }
        if state.order != .index { parts.append(state.order.label) }
        line.append(parts.joined(separator: theme.dot), theme.muted)
        return line
    }

    /// Marks a heatmap cell as selected (reversed and bold; the colour stays visible).
    static func markCell(x: Int, width: Int, y: Int, clip: Rect, into buffer: inout ScreenBuffer) {
        for dx in 0..<max(1, width) where x + dx < clip.maxX {
            guard var marked = buffer.cell(x: x + dx, y: y), !marked.isContinuation else { continue }
            marked.style.reverse = true
            marked.style.bold = true
            buffer.set(marked, x: x + dx, y: y)
        }
    }

    /// The current layer's load per expert over the logged training steps, one sparkline per expert
    /// on a scale from 0 to twice the fair share.
    static func renderLoadHistory(_ history: RunHistory, layer: Int, selected: Int? = nil, theme: Theme, in area: Rect,
                                  into buffer: inout ScreenBuffer) {
        let records = history.steps.compactMap { step in step.layers.first { $0.layer == layer } }
        let experts = records.map(\.load.count).max() ?? 0
        guard experts > 0, !area.isEmpty else { return }
        let fair = 1 / Double(experts)
        let window = ListWindow(total: experts, visible: experts <= area.height - 1 ? experts : area.height - 1,
                                focus: selected ?? 0)
        let position = window.label("experts", unicode: theme.unicode)
        Text("layer \(layer) load over training steps" + (position.isEmpty ? "" : theme.dot + position), style: theme.muted,
             mode: theme.mode).render(in: area.row(0), into: &buffer)
        for (i, e) in window.range.enumerated() {
            let row = area.row(i + 1).columns([.fixed(experts > 100 ? 5 : 4), .fill(1), .fixed(8)])
            buffer.put("e\(e)", at: row[0].x, y: row[0].y, style: e == selected ? theme.selected : theme.series(e), clip: row[0])
            let series = history.steps.map { step -> Double in
                guard let l = step.layers.first(where: { $0.layer == layer }), e < l.load.count else { return .nan }
                return l.load[e]
            }
            Sparkline(values: ViewFormat.buckets(series, count: row[1].width), min: 0, max: 2 * fair, style: theme.series(e),
                      mode: theme.mode).render(in: row[1], into: &buffer)
            let now = series.last { !$0.isNaN }
            Text(now.map(NumberText.percent) ?? "-", style: (now ?? fair) < 0.1 * fair ? theme.bad : .plain, alignment: .right,
                 mode: theme.mode).render(in: row[2], into: &buffer)
        }
    }

    /// One row per MoE layer: CV, MaxVio, mean routing entropy, NLL, dead components, and the layer's CV
    /// over the logged steps as a sparkline in whatever width is left; below them the quantiles of the
    /// CVs and MaxVios across layers. With expert parallelism (`g`, `--ep G`, `--placement FILE`) the
    /// entropy and NLL give way to the busiest rank's MaxVio and index (and with `--redundant R` the
    /// MaxVio after replication), the sparkline follows the rank MaxVio over the steps, and a last line
    /// names the layer whose busiest rank is the most overloaded and since which step it has been so.
    static func renderLayerTable(_ matrix: LoadMatrix, order: [Int], focus: Int, state: InspectorState, theme: Theme,
                                 in area: Rect, into buffer: inout ScreenBuffer) {
        guard !area.isEmpty else { return }
        let plan = state.expertParallel
        let ep = plan.active && (plan.placement != nil || (plan.ranks ?? 0) <= matrix.experts)
        let whatIf = ep && plan.redundant != nil
        // Columns by name, leaving out the NLL, then the entropy, while they would leave the trend
        // sparkline fewer than 8 cells (the Layer screen shows both).
        var names = [matrix.cvName, "MaxVio"] + (ep ? ["rank MV", "hot"] + (whatIf ? ["after"] : []) : ["H bits", "nll"]) + ["dead"]
        let width: [String: Int] = [matrix.cvName: 9, "MaxVio": 7, "H bits": 7, "nll": 8, "rank MV": 8, "hot": 5, "after": 6, "dead": 5]
        for optional in ["nll", "H bits"] where 6 + names.reduce(1) { $0 + (width[$1] ?? 0) } + 8 > area.width {
            names.removeAll { $0 == optional }
        }
        let widths = [6] + names.map { width[$0] ?? 0 }
        let fixed = widths.reduce(0, +) + 1
        let shownRanks = ep ? matrix.layers.indices.lazy.compactMap { plan.rankLoad(layer: matrix.layers[$0], load: matrix.loads[$0]) }
            .first?.load.count : nil
        let trendTitle = ep ? " rank MaxVio over steps, " + plan.label(ranks: shownRanks) : " train CV over steps"
        let header = ViewFormat.padRight("layer", widths[0]) + zip(names, widths.dropFirst())
            .map { ViewFormat.padLeft($0.0, $0.1) }.joined() + (area.width > fixed + 4 ? trendTitle : "")
        Text(header, style: theme.muted, mode: theme.mode).render(in: area.row(0), into: &buffer)
        // The last rows: the quantiles of the CVs and MaxVios across every layer, shown or paged out,
        // and with expert parallelism the rank that stalls.
        let stalls = ep ? RankTrend.worst(history: state.history, plan: plan).map { stallLine($0, width: area.width) } : nil
        let room = area.height - 2 - (stalls == nil ? 0 : 1)
        var across = matrix.layers.count > 1 && room >= 1
            ? ViewFormat.acrossLayers(cv: matrix.cvs, cvName: matrix.cvName, maxVio: matrix.loads.map(LayerMetrics.maxViolation),
                                      width: area.width, rows: room >= 3 ? 2 : 1, dot: theme.dot)
            : []
        if let stalls, area.height >= 3 { across.append(stalls) }
        let window = ListWindow(total: order.count, visible: area.height - 1 - across.count, focus: focus)
        for (i, text) in across.enumerated() {
            Text(text, style: i == across.count - 1 && stalls != nil ? theme.warn : theme.muted, mode: theme.mode)
                .render(in: area.row(1 + window.count + i), into: &buffer)
        }
        for (line, position) in window.range.enumerated() {
            let row = order[position]
            let layer = matrix.layers[row]
            let load = matrix.loads[row]
            let rank = ep ? plan.rankLoad(layer: layer, load: load) : nil
            var cells: [(String, Style)] = [(ViewFormat.padRight("L\(layer)", widths[0]), layer == state.layer ? theme.strong : .plain)]
            for (name, w) in zip(names, widths.dropFirst()) {
                func number(_ value: Double?, decimals: Int = 3) -> String {
                    ViewFormat.padLeft(value.map { ViewFormat.fitting($0, width: w - 1, decimals: decimals) } ?? "-", w)
                }
                switch name {
                case "MaxVio":
                    let v = LayerMetrics.maxViolation(load)
                    cells.append((number(v, decimals: 2), v > 1 ? theme.warn : .plain))
                case "H bits": cells.append((number(matrix.entropies[row], decimals: 2), .plain))
                case "nll": cells.append((number(matrix.nlls[row]), .plain))
                case "rank MV": cells.append((number(rank?.maxVio, decimals: 2), (rank?.maxVio ?? 0) > 0.5 ? theme.warn : .plain))
                case "hot": cells.append((ViewFormat.padLeft(rank.map { "r\($0.hottest)" } ?? "-", w), .plain))
                case "after": cells.append((number(plan.replicated(layer: layer, load: load)?.maxVio, decimals: 2), .plain))
                case "dead":
                    let dead = matrix.dead[row]
                    cells.append((ViewFormat.padLeft(dead.map(String.init) ?? "-", w), (dead ?? 0) > 0 ? theme.warn : .plain))
                default:
                    let cv = matrix.cvs[row]
                    cells.append((number(cv), cv > 1 || !cv.isFinite ? theme.warn : .plain))
                }
            }
            let rect = area.row(line + 1)
            StyledLine(cells, mode: theme.mode).render(in: rect, into: &buffer)
            let spark = rect.inset(left: fixed)
            guard spark.width >= 4 else { continue }
            let trend = ep ? RankTrend.of(layer: layer, history: state.history, plan: plan)?.maxVio ?? []
                : state.history.steps.map { step in step.layers.first { $0.layer == layer }?.cv ?? .nan }
            guard trend.contains(where: { !$0.isNaN }) else { continue }
            Sparkline(values: ViewFormat.buckets(trend, count: spark.width), min: 0, max: max(1, trend.filter(\.isFinite).max() ?? 1), style: Style(fg: theme.seriesColor(4)),
                      mode: theme.mode).render(in: spark, into: &buffer)
        }
    }

    /// "stalls most: L3 r1, rank MaxVio 0.42 @ step 300, the busiest since step 120", shortened to fit.
    static func stallLine(_ t: RankTrend, width: Int) -> String {
        let vio = NumberText.fixed(t.latest, decimals: 2)
        let choices = ["stalls most: L\(t.layer) r\(t.hottest), rank MaxVio \(vio) @ step \(t.latestStep), the busiest since step \(t.since)",
                       "stalls: L\(t.layer) r\(t.hottest) rank MaxVio \(vio) @\(t.latestStep), busiest since step \(t.since)",
                       "stalls: L\(t.layer) r\(t.hottest) MV \(vio) @\(t.latestStep) since \(t.since)"]
        return choices.first { DisplayWidth.of($0) <= width } ?? choices[choices.count - 1]
    }
}
