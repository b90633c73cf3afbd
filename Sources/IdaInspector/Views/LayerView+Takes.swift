import IdaAnalysis
import IdaRouting
import IdaTerminal

extension LayerView {
    /// Short names of the token labels on the panel's last line.
    static let takesLabelNames: [Specialisation.Label: String] = [
        .domain: "domain", .token: "token", .previousToken: "prev", .characterClass: "class", .wordPosition: "word pos",
    ]

    /// How a token reads on the panel: its text, with a space, an empty token and escapes made visible.
    static func takesText(_ token: Int32, vocabulary: Vocabulary, unicode: Bool) -> String {
        let text = ViewFormat.token(token, vocabulary)
        if text == " " { return unicode ? "␣" : "' '" }
        if text.isEmpty { return "''" }
        return text.count > 8 ? String(text.prefix(7)) + (unicode ? "…" : "~") : text
    }

    /// The `t` panel: per expert (the load panel's order, a page holding the selected expert) its
    /// share of the probe's first choices, its commonest character class and its commonest tokens;
    /// then how much of the expert choice each token label explains (I / H(expert)).
    static func renderTakes(_ state: InspectorState, theme: Theme, in area: Rect, into buffer: inout ScreenBuffer) {
        guard let la = state.layerAnalysis else {
            Panel.waiting("what each expert takes", state, theme: theme, in: area, into: &buffer)
            return
        }
        let takes = ExpertTakes(selected: la.selected, topK: la.topK, experts: la.experts, tokens: state.tokens,
                                domains: state.domains, vocabulary: state.vocabulary)
        let order = state.expertOrder.count == la.experts ? state.expertOrder : Array(0..<la.experts)
        let probeInner = Panel.innerArea(area)
        let window = ListWindow(total: la.experts, visible: max(probeInner.height - 2, 1),
                                focus: state.selectedExpert.flatMap { order.firstIndex(of: $0) } ?? 0)
        let position = window.label("experts", unicode: theme.unicode)
        let inner = Panel.draw("what each expert takes" + theme.dot + "layer \(la.layer) first choices"
                                + (position.isEmpty ? "" : theme.dot + position), in: area, theme: theme, into: &buffer)
        guard !inner.isEmpty else { return }
        guard takes.total > 0 else {
            Panel.placeholder("no probe tokens", in: inner, style: theme.muted, mode: theme.mode, into: &buffer)
            return
        }
        let labelWidth = la.experts > 100 ? 5 : 4
        let footerRows = inner.height >= 6 ? 2 : 1
        let percent = { (share: Double) in String(format: "%.0f%%", 100 * share) }
        for (i, e) in order[window.range].enumerated() where i < inner.height - footerRows {
            let x = takes.experts[e]
            var line = StyledLine(mode: theme.mode)
            line.append(("e\(e)").padding(toLength: labelWidth, withPad: " ", startingAt: 0),
                        e == state.selectedExpert ? theme.selected : theme.series(e))
            let share = percent(Double(x.tokens) / Double(takes.total))
            line.append(String(repeating: " ", count: max(0, 4 - share.count)) + share, theme.muted)
            if let (kind, share, lift) = x.topClass {
                line.append("  " + kind.shortName + " " + percent(share), .plain)
                line.append(String(format: theme.unicode ? " ×%.1f" : " x%.1f", lift), lift >= 1.5 ? theme.strong : theme.muted)
            }
            for (token, share) in x.top {
                line.append("  ")
                line.append(takesText(token, vocabulary: state.vocabulary, unicode: theme.unicode), theme.strong)
                line.append(" " + percent(share), theme.muted)
            }
            line.render(in: inner.row(i), into: &buffer)
        }
        // How much of the expert choice each label explains, wrapped over the last rows.
        var lines = [StyledLine(mode: theme.mode)]
        lines[0].append("I/H(expert)", theme.muted)
        for item in takes.explained {
            let name = (takesLabelNames[item.label] ?? item.label.rawValue) + " "
            let value = String(format: "%.2f", item.normalized)
            if lines[lines.count - 1].width + 1 + name.count + value.count > inner.width && lines.count < footerRows {
                lines.append(StyledLine(mode: theme.mode))
            } else {
                lines[lines.count - 1].append(" ")
            }
            lines[lines.count - 1].append(name, theme.muted)
            lines[lines.count - 1].append(value, .plain)
        }
        for (i, line) in lines.enumerated() {
            line.render(in: inner.row(inner.height - lines.count + i), into: &buffer)
        }
    }
}
