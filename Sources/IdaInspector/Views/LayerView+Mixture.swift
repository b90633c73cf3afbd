import IdaNumerics
import IdaTerminal

extension LayerView {
    /// Geometry of the prior heatmap: the page of experts (rows, in display order) holding the
    /// selected expert, and how many components share a cell when M does not fit one column each.
    struct PriorGrid {
        /// Cell geometry (columns = cells).
        var grid: HeatmapGrid
        /// Experts in row order.
        var order: [Int]
        /// The page of `order` drawn.
        var rows: ListWindow
        /// Components per cell.
        var group: Int
        /// Components per expert M.
        var m: Int

        /// The grid for `la` inside `inner`.
        init(_ la: LayerAnalysis, order: [Int], selected: Int?, showValues: Bool, inner: Rect) {
            m = max(1, la.componentsPerExpert)
            let room = max(1, inner.width - 4)
            group = max(1, (m + room - 1) / room)
            grid = HeatmapGrid(inner: inner, columns: (m + group - 1) / group, labelWidth: 4, showValues: showValues && group == 1)
            let order = order.count == la.experts ? order : Array(0..<la.experts)
            self.order = order
            let height = inner.height - (grid.hasHeader ? 1 : 0)
            let visible = la.experts <= height ? la.experts : height - 1
            let focus = selected.flatMap { order.firstIndex(of: $0) } ?? 0
            rows = ListWindow(total: la.experts, visible: visible, focus: focus)
        }

        /// The component a cell stands for: the largest |value| of the cell's components, ties to the first.
        func component(expert e: Int, column: Int, values: [Double]) -> Int {
            let start = e * m + column * group
            let end = min(start + group, (e + 1) * m)
            var best = start
            for k in start..<end where k < values.count && abs(values[k]) > abs(values[best]) { best = k }
            return best
        }

        /// The component drawn at screen cell (x, y), if any.
        func target(atX x: Int, y: Int, priors: [Double]) -> Int? {
            guard let (r, column) = grid.position(atX: x, y: y), r < rows.count, column < grid.columns else { return nil }
            return component(expert: order[rows.first + r], column: column, values: priors)
        }
    }

    /// Priors as an E x M heatmap (rows experts in `order`, a page at a time; columns components)
    /// coloured relative to 1/K; dead components are crossed out unless values are shown.
    static func renderPriors(_ la: LayerAnalysis, order: [Int] = [], showValues: Bool,
                             selection: (expert: Int?, component: Int?) = (nil, nil),
                             delta: [Double]? = nil, theme: Theme, in area: Rect, into buffer: inout ScreenBuffer) {
        let pi = theme.unicode ? "π" : "pi"
        let layout = PriorGrid(la, order: order, selected: selection.expert, showValues: showValues, inner: Panel.innerArea(area))
        let position = layout.rows.label("experts", unicode: theme.unicode)
        // Paged, the position replaces the axis names (both do not fit in narrow panels).
        let title = (delta == nil ? "priors \(pi)" : "Δ\(pi) B − A")
            + (position.isEmpty ? " (expert x component)" : theme.dot + position)
        let inner = Panel.draw(title, in: area, theme: theme, into: &buffer)
        // With a delta the heatmap shows B − A on a symmetric scale: the middle colour is no change.
        let deltaScale = max(delta.map { $0.map(abs).filter(\.isFinite).max() ?? 0 } ?? 0, 1e-9) * 100
        guard !inner.isEmpty else { return }
        let m = la.componentsPerExpert
        let k = la.priors.count
        let grid = layout.grid
        let (labelWidth, cell, room, group) = (grid.labelWidth, grid.cell, grid.room, layout.group)
        let decimals: Int? = showValues && group == 1 && cell >= 4 ? (cell >= 5 ? 2 : 1) : nil
        let dead = Set(la.deadComponents)
        let values = delta.flatMap { $0.count == k ? $0 : nil } ?? la.priors
        var y = inner.y
        if grid.hasHeader {
            for c in 0..<grid.columns {
                let first = c * group
                let label = [group == 1 ? "m\(c)" : "m\(first)", "\(first)"].first { DisplayWidth.of($0) < cell } ?? ""
                buffer.put(ViewFormat.padLeft(label, cell), at: inner.x + labelWidth + c * cell, y: y, style: theme.muted, clip: inner)
            }
            y += 1
        }
        let fairPercent = 100 / Double(k)
        for e in layout.order[layout.rows.range] where y < inner.maxY {
            buffer.put("e\(e)", at: inner.x, y: y, style: e == selection.expert ? theme.selected : theme.series(e), clip: inner)
            let rect = Rect(x: inner.x + labelWidth, y: y, width: room, height: 1)
            let row = (0..<grid.columns).map { values[layout.component(expert: e, column: $0, values: values)] * 100 }
            let range = delta == nil ? 0...(2 * fairPercent) : -deltaScale...deltaScale
            Heatmap(values: [row], range: range, cellWidth: cell, labelDecimals: decimals, mode: theme.mode)
                .render(in: rect, into: &buffer)
            if decimals == nil && group == 1 {
                for c in 0..<m where dead.contains(e * m + c) {
                    buffer.put(theme.unicode ? "×" : "x", at: rect.x + c * cell + (cell - 1) / 2, y: y, style: theme.bad, clip: rect)
                }
            }
            if let k = selection.component, k / max(1, m) == e {
                // The clicked component: its cell drawn reversed (the heatmap colour stays visible).
                OverviewView.markCell(x: rect.x + (k % m) / group * cell, width: cell, y: y, clip: rect, into: &buffer)
            }
            y += 1
        }
        if y < inner.maxY {
            let legend = (delta != nil ? "points, ±\(NumberText.fixed(deltaScale, decimals: 2)) at the ends, middle = no change"
                          : "% of mass; fair 1/K = \(NumberText.percent(1 / Double(k)))")
                + (group > 1 ? "; \(group) components/cell, largest shown" : "")
                + (dead.isEmpty || decimals != nil || group > 1 ? "" : (theme.unicode ? "; × dead" : "; x dead"))
                + (showValues && decimals == nil ? "; too narrow for values" : "")
            Text(legend, style: theme.muted, mode: theme.mode).render(in: inner.row(y - inner.y), into: &buffer)
        }
    }

    /// Usage (share of tokens whose top component it is) against prior for the most used
    /// components, then the dead ones.
    static func renderComponents(_ la: LayerAnalysis, theme: Theme, in area: Rect, into buffer: inout ScreenBuffer) {
        let inner = Panel.draw("components" + theme.dot + "usage vs prior", in: area, theme: theme, into: &buffer)
        guard !inner.isEmpty, let usage = la.metrics.componentUsage, usage.count == la.priors.count else { return }
        let m = max(1, la.componentsPerExpert)
        let dead = la.deadComponents
        // "on the probe": the reactivation panel's count is the trainer's (usage over training batches).
        let named = inner.width >= 40 ? "dead on the probe" : "dead"
        let deadText = dead.isEmpty ? "\(named): none (\(ReactivationState.deadRuleWords(la.priorMass).alive) >= \(ReactivationConfig.defaultTau)/K)"
            : "\(named) (\(dead.count)): " + dead.map { "k\($0) e\($0 / m)" }.joined(separator: ", ")
        let deadLines = Panel.wrap(deadText, width: inner.width)
        let deadRows = min(deadLines.count, max(1, inner.height / 3))
        let tableRows = max(0, inner.height - deadRows - 1)
        let barWidth = max(1, (inner.width - 24) / 2)
        let scale = max(usage.max() ?? 0, la.priors.max() ?? 0, 1e-12)
        if tableRows > 0 {
            let header = ViewFormat.padRight("comp", 10) + ViewFormat.padLeft("usage", 7)
                + " " + ViewFormat.padRight("", barWidth) + ViewFormat.padLeft("prior", 7)
            Text(header, style: theme.muted, mode: theme.mode).render(in: inner.row(0), into: &buffer)
        }
        let order = usage.indices.sorted { usage[$0] != usage[$1] ? usage[$0] > usage[$1] : $0 < $1 }
        for (i, c) in order.prefix(max(0, tableRows - 1)).enumerated() {
            let row = inner.row(i + 1).columns([.fixed(10), .fixed(7), .fixed(1), .fixed(barWidth), .fixed(7), .fixed(1), .fixed(barWidth)])
            StyledLine([("k\(c) ", .plain), ("e\(c / m)", theme.series(c / m))], mode: theme.mode).render(in: row[0], into: &buffer)
            Text(NumberText.percent(usage[c]), alignment: .right, mode: theme.mode).render(in: row[1], into: &buffer)
            HorizontalBar(fraction: usage[c] / scale, style: theme.info, mode: theme.mode).render(in: row[3], into: &buffer)
            Text(NumberText.percent(la.priors[c]), alignment: .right, mode: theme.mode).render(in: row[4], into: &buffer)
            HorizontalBar(fraction: la.priors[c] / scale, style: Style(fg: theme.colored ? .magenta : .default),
                          mode: theme.mode).render(in: row[6], into: &buffer)
        }
        for (i, line) in deadLines.prefix(deadRows).enumerated() {
            let last = i == deadRows - 1 && deadRows < deadLines.count
            Text(last ? line + " " + theme.ellipsis : line, style: dead.isEmpty ? theme.good : theme.warn, mode: theme.mode)
                .render(in: inner.row(inner.height - deadRows + i), into: &buffer)
        }
    }
}
