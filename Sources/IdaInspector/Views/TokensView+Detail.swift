import Foundation
import IdaTerminal

extension TokensView {
    /// The token panel: text, position, domain, chosen experts and weights, entropy, density and
    /// reconstruction, the three most probable components, and q over experts as bars.
    static func renderDetail(_ state: InspectorState, side: Bool, theme: Theme, in area: Rect, into buffer: inout ScreenBuffer) {
        let n = state.cursor
        let count = state.tokens.count
        let inner = Panel.draw("token \(n) of \(count)", in: area, theme: theme, into: &buffer)
        guard !inner.isEmpty, n >= 0, n < count else { return }
        let facts = detailLines(state, theme: theme)
        guard let la = state.layerAnalysis, (n + 1) * la.experts <= la.expertProbabilities.count else {
            for (i, line) in facts.prefix(inner.height).enumerated() { line.render(in: inner.row(i), into: &buffer) }
            return
        }
        let components = componentLines(state, la, theme: theme)
        let q = (0..<la.experts).map { Double(la.expertProbabilities[n * la.experts + $0]) }
        let chosen = Set((0..<la.topK).compactMap { j in n * la.topK + j < la.selected.count ? Int(la.selected[n * la.topK + j]) : nil })
        let columns: [Rect]
        if side {
            // Stacked: facts, components, then the bars in what is left.
            let text = facts + (components.isEmpty ? [] : [StyledLine(mode: theme.mode)] + components)
            let top = min(text.count + 1, max(0, inner.height - la.experts - 1))
            for (i, line) in text.prefix(top).enumerated() { line.render(in: inner.row(i), into: &buffer) }
            columns = [inner.inset(top: top)]
        } else if components.isEmpty || inner.width < 72 {
            let parts = inner.columns([.fill(3), .fill(2)], spacing: 2)
            let text = facts + components
            for (i, line) in text.prefix(parts[0].height).enumerated() { line.render(in: parts[0].row(i), into: &buffer) }
            columns = [parts[1]]
        } else {
            let parts = inner.columns([.fill(1), .fixed(26), .fill(1)], spacing: 2)
            for (i, line) in facts.prefix(parts[0].height).enumerated() { line.render(in: parts[0].row(i), into: &buffer) }
            for (i, line) in components.prefix(parts[1].height).enumerated() { line.render(in: parts[1].row(i), into: &buffer) }
            columns = [parts[2]]
        }
        renderExpertBars(q, chosen: chosen, theme: theme, in: columns[0], into: &buffer)
    }

    /// The panel's text lines for the token under the cursor.
    static func detailLines(_ state: InspectorState, theme: Theme) -> [StyledLine] {
        let n = state.cursor
        var lines: [StyledLine] = []
        var head = StyledLine(mode: theme.mode)
        head.append("'" + ViewFormat.token(state.tokens[n], state.vocabulary) + "'", theme.strong)
        if let domains = state.domains, n < domains.count {
            let d = Int(domains[n])
            head.append(theme.dot + "domain ", theme.muted)
            head.append(d >= 0 && d < state.domainNames.count ? state.domainNames[d] : "\(d)", .plain)
        }
        lines.append(head)
        guard let la = state.layerAnalysis, (n + 1) * la.topK <= la.selected.count else {
            lines.append(StyledLine([("routing: " + ViewFormat.waiting(state, ellipsis: theme.ellipsis), theme.muted)], mode: theme.mode))
            return lines
        }
        var top = StyledLine([("top-\(la.topK) ", theme.muted)], mode: theme.mode)
        for j in 0..<la.topK {
            let e = Int(la.selected[n * la.topK + j])
            top.append("e\(e)", theme.emphasized(theme.series(e)))
            top.append(" " + ViewFormat.fixed2(Double(la.weights[n * la.topK + j])) + "  ", .plain)
        }
        lines.append(top)
        if n < la.entropy.count {
            lines.append(StyledLine([("entropy ", theme.muted), (ViewFormat.fixed2(Double(la.entropy[n])), .plain),
                                     (" bits", theme.muted)], mode: theme.mode))
        }
        if let density = la.logDensity, n < density.count {
            var line = StyledLine([("log p(z) ", theme.muted), (ViewFormat.fixed2(density[n]), density[n].isFinite ? .plain : theme.bad)],
                                  mode: theme.mode)
            // Where the token's density falls among the probe's: the lowest 1% is marked as unusual
            // for the mixture (out of its data, or in a region no component covers).
            if density[n].isFinite, density.count > 1 {
                let below = density.reduce(0) { $0 + ($1 < density[n] ? 1 : 0) }
                let percentile = 100 * Double(below) / Double(density.count)
                let rank = Int(percentile)
                let suffix = (11...13).contains(rank % 100) ? "th" : [1: "st", 2: "nd", 3: "rd"][rank % 10] ?? "th"
                line.append("  \(rank)\(suffix) %ile", theme.muted)
                if percentile < 1 { line.append("  " + theme.warnMark + " unusual", theme.warn) }
            }
            lines.append(line)
        }
        if let rec = la.reconstruction, n < rec.count {
            lines.append(StyledLine([("recon error ", theme.muted), (ViewFormat.fixed3(Double(rec[n])), .plain)], mode: theme.mode))
        }
        return lines
    }

    /// The three most probable components: posterior and log p(z, k) = log posterior + log p(z).
    static func componentLines(_ state: InspectorState, _ la: LayerAnalysis, theme: Theme) -> [StyledLine] {
        let n = state.cursor
        let kept = LayerAnalysis.keptComponents
        guard la.componentsPerExpert > 0, (n + 1) * kept <= la.topComponents.count else { return [] }
        let best = (n * kept..<(n + 1) * kept).filter { la.topComponents[$0] >= 0 }
            .map { (component: Int(la.topComponents[$0]), posterior: Double(la.topPosteriors[$0])) }
        let density = la.logDensity.flatMap { n < $0.count ? $0[n] : nil }
        var lines = [StyledLine([(ViewFormat.padRight("comp", 9) + ViewFormat.padLeft("post", 6)
                                  + ViewFormat.padLeft("log p(z,k)", 11), theme.muted)], mode: theme.mode)]
        for (c, posterior) in best {
            let e = c / la.componentsPerExpert
            let joint = density.map { Foundation.log(posterior) + $0 }
            lines.append(StyledLine([(ViewFormat.padRight("k\(c)", 5), .plain), (ViewFormat.padRight("e\(e)", 4), theme.series(e)),
                                     (ViewFormat.padLeft(ViewFormat.fixed3(posterior), 6), .plain),
                                     (ViewFormat.padLeft(joint.map(ViewFormat.fixed2) ?? "-", 11), .plain)], mode: theme.mode))
        }
        return lines
    }

    /// q over experts: one bar per expert, the chosen ones marked; when the experts do not all fit,
    /// the most probable ones (the chosen ones first), with how many are left out.
    static func renderExpertBars(_ q: [Double], chosen: Set<Int>, theme: Theme, in area: Rect, into buffer: inout ScreenBuffer) {
        guard !area.isEmpty else { return }
        let fits = q.count <= area.height
        var shown = Array(q.indices)
        if !fits {
            shown.sort { a, b in
                let (ca, cb) = (chosen.contains(a), chosen.contains(b))
                if ca != cb { return ca }
                return q[a] != q[b] ? q[a] > q[b] : a < b
            }
            shown = Array(shown.prefix(max(0, area.height - 1)))
        }
        // A header line when there is a row to spare (always when experts are left out).
        let top = q.count < area.height || !fits ? 1 : 0
        if top == 1 {
            Text(fits ? "q (expert distribution)" : "q: top \(shown.count) of \(q.count) experts", style: theme.muted,
                 mode: theme.mode).render(in: area.row(0), into: &buffer)
        }
        let labelWidth = q.count > 100 ? 6 : 5
        for (i, e) in shown.enumerated() where i + top < area.height {
            let row = area.row(i + top).columns([.fixed(labelWidth), .fill(1), .fixed(6)])
            let p = q[e]
            let mark = chosen.contains(e) ? (theme.unicode ? "▸" : ">") : " "
            buffer.put(mark + "e\(e)", at: row[0].x, y: row[0].y, style: chosen.contains(e) ? theme.emphasized(theme.series(e)) : theme.series(e),
                       clip: row[0])
            HorizontalBar(fraction: p, style: theme.series(e), mode: theme.mode).render(in: row[1], into: &buffer)
            Text(ViewFormat.fixed3(p), alignment: .right, mode: theme.mode).render(in: row[2], into: &buffer)
        }
    }
}
