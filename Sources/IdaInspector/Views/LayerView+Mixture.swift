import IdaTerminal

extension LayerView {
    /// Priors as an E x M heatmap (rows experts, columns components) coloured relative to 1/K;
    /// dead components are crossed out unless values are shown.
    static func renderPriors(_ la: LayerAnalysis, showValues: Bool, selection: (expert: Int?, component: Int?) = (nil, nil),
                             delta: [Double]? = nil, theme: Theme, in area: Rect, into buffer: inout ScreenBuffer) {
        let pi = theme.unicode ? "π" : "pi"
        let title = delta == nil ? "priors \(pi) (expert x component)" : "Δ\(pi) B − A (expert x component)"
        let inner = Panel.draw(title, in: area, theme: theme, into: &buffer)
        // With a delta the heatmap shows B − A on a symmetric scale: the middle colour is no change.
        let deltaScale = max(delta.map { $0.map(abs).filter(\.isFinite).max() ?? 0 } ?? 0, 1e-9) * 100
        guard !inner.isEmpty else { return }
        let m = la.componentsPerExpert
        let k = la.priors.count
        let grid = HeatmapGrid(inner: inner, columns: m, labelWidth: 4, showValues: showValues)
        let (labelWidth, cell, room) = (grid.labelWidth, grid.cell, grid.room)
        let decimals: Int? = showValues && cell >= 4 ? (cell >= 5 ? 2 : 1) : nil
        let dead = Set(deadComponents(la))
        var y = inner.y
        if grid.hasHeader {
            for c in 0..<m {
                let label = [ "m\(c)", "\(c)"].first { DisplayWidth.of($0) < cell } ?? ""
                buffer.put(ViewFormat.padLeft(label, cell), at: inner.x + labelWidth + c * cell, y: y, style: theme.muted, clip: inner)
            }
            y += 1
        }
        let fairPercent = 100 / Double(k)
        for e in 0..<la.experts where y < inner.maxY {
            buffer.put("e\(e)", at: inner.x, y: y, style: e == selection.expert ? theme.selected : theme.series(e), clip: inner)
            let rect = Rect(x: inner.x + labelWidth, y: y, width: room, height: 1)
            if let delta, delta.count == la.priors.count {
                let row = (0..<m).map { delta[e * m + $0] * 100 }
                Heatmap(values: [row], range: -deltaScale...deltaScale, cellWidth: cell, labelDecimals: decimals, mode: theme.mode)
                    .render(in: rect, into: &buffer)
            } else {
                let row = (0..<m).map { la.priors[e * m + $0] * 100 }
                Heatmap(values: [row], range: 0...(2 * fairPercent), cellWidth: cell, labelDecimals: decimals, mode: theme.mode)
                    .render(in: rect, into: &buffer)
            }
            if decimals == nil {
                for c in 0..<m where dead.contains(e * m + c) {
                    buffer.put(theme.unicode ? "×" : "x", at: rect.x + c * cell + (cell - 1) / 2, y: y, style: theme.bad, clip: rect)
                }
            }
            if let k = selection.component, k / m == e {
                // The clicked component: its cell drawn reversed (the heatmap colour stays visible).
                let c = k % m
                let x = rect.x + c * cell
                for dx in 0..<cell where x + dx < rect.maxX {
                    guard var marked = buffer.cell(x: x + dx, y: y), !marked.isContinuation else { continue }
                    marked.style.reverse = true
                    marked.style.bold = true
                    buffer.set(marked, x: x + dx, y: y)
                }
            }
            y += 1
        }
        if y < inner.maxY {
            let legend = (delta != nil ? "points, ±\(NumberText.fixed(deltaScale, decimals: 2)) at the ends, middle = no change"
                          : "% of mass; fair 1/K = \(ViewFormat.percent(1 / Double(k)))")
                + (dead.isEmpty || decimals != nil ? "" : (theme.unicode ? "; × dead" : "; x dead"))
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
        let dead = deadComponents(la)
        let deadText = dead.isEmpty ? "dead: none (usage and prior >= 0.1/K)"
            : "dead (\(dead.count)): " + dead.map { "k\($0) e\($0 / m)" }.joined(separator: ", ")
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
            Text(ViewFormat.percent(usage[c]), alignment: .right, mode: theme.mode).render(in: row[1], into: &buffer)
            HorizontalBar(fraction: usage[c] / scale, style: theme.info, mode: theme.mode).render(in: row[3], into: &buffer)
            Text(ViewFormat.percent(la.priors[c]), alignment: .right, mode: theme.mode).render(in: row[4], into: &buffer)
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
