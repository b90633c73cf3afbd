import IdaNumerics
import IdaTerminal

/// Screen 2: one MoE layer. Load bars against the fair share, the mixture's priors as an E x M
/// heatmap, component usage against prior, dead components, and the died / revived timeline (or, with
/// `t`, what each expert takes: its commonest tokens and character class).
enum LayerView {
    /// Lays out the panels over `area`; on B's half of a split `marks` hold B − A load and priors.
    static func render(_ state: InspectorState, marks: CompareMarks? = nil, theme: Theme, in area: Rect,
                       into buffer: inout ScreenBuffer) {
        let la = state.layerAnalysis
        let layer = state.layer ?? historyLayer(state)
        let load = currentLoad(state)
        let parts = layout(state, area: area)
        let source = la == nil && load != nil ? theme.dot + "training batch" : ""
        // The shown load's balance, CV and MaxVio, in the title (dropped by the panel when it does not fit).
        let balance = load.map { l in theme.dot + "CV " + ViewFormat.fixed3(LayerMetrics.coefficientOfVariation(l))
            + " MaxVio " + ViewFormat.fixed3(LayerMetrics.maxViolation(l)) } ?? ""
        let delta = marks?.loadDelta
        renderLoadBars(load, order: state.expertOrder, selected: state.selectedExpert, delta: delta,
                       pending: la == nil && state.analysis != nil ? ViewFormat.waiting(state, ellipsis: theme.ellipsis) : nil, theme: theme,
                       title: "load" + source + (delta == nil ? "" : theme.dot + "Δ vs A"), titleTail: balance, in: parts.load, into: &buffer)
        if state.showTakes {
            renderTakes(state, theme: theme, in: parts.reactivations, into: &buffer)
        } else {
            renderReactivations(state, layer: layer, theme: theme, in: parts.reactivations, into: &buffer)
        }
        if let la, let entropy = parts.entropy {
            renderEntropy(la, router: state.analysis?.router.rawValue ?? "", theme: theme, in: entropy, into: &buffer)
        }
        guard let la else {
            Panel.waiting("mixture", state, theme: theme, in: parts.mixture, into: &buffer)
            return
        }
        guard let priors = parts.priors, let components = parts.components else {
            let inner = Panel.draw("mixture", in: parts.mixture, theme: theme, into: &buffer)
            let router = state.analysis?.router.rawValue ?? "softmax"
            Panel.placeholder("\(router) router: no mixture\n(priors, component usage and reactivation exist for IDA routers only)",
                              in: inner, style: theme.muted, mode: theme.mode, into: &buffer)
            return
        }
        renderPriors(la, order: state.expertOrder, showValues: state.showValues,
                     selection: (state.selectedExpert, state.selectedComponent),
                     delta: marks?.priorDelta,
                     theme: theme, in: priors, into: &buffer)
        renderComponents(la, theme: theme, in: components, into: &buffer)
    }

    /// The shown layer's load per expert: the analysed probe's, else the training log's.
    static func currentLoad(_ state: InspectorState) -> [Double]? {
        let layer = state.layer ?? historyLayer(state)
        return state.layerAnalysis?.metrics.load
            ?? layer.flatMap { l in state.history.latest?.layers.first { $0.layer == l }?.load }
    }

    /// Whether the shown layer has a mixture to draw (an IDA router with consistent priors).
    static func hasMixture(_ la: LayerAnalysis?) -> Bool {
        guard let la else { return false }
        return la.componentsPerExpert > 0 && la.priors.count == la.experts * la.componentsPerExpert
    }

    /// Where the panels go; rendering and hit-testing share it. `priors` and `components` are nil
    /// when there is no mixture to draw (then `mixture` holds a placeholder); `entropy` (the routing
    /// entropy histogram) is nil before the layer is analysed or where there is no room: under the
    /// components of an IDA layer, above the placeholder of a router without a mixture.
    static func layout(_ state: InspectorState, area: Rect)
        -> (load: Rect, reactivations: Rect, mixture: Rect, priors: Rect?, components: Rect?, entropy: Rect?) {
        let columns = area.columns([.ratio(0.42), .fill(1)])
        let experts = currentLoad(state)?.count ?? 0
        // Borders, the fair-share line, a bar per expert and the quantile footer.
        let left = columns[0].rows([.fixed(min(experts + 4, columns[0].height * 3 / 5)), .fill(1)])
        guard let la = state.layerAnalysis else { return (left[0], left[1], columns[1], nil, nil, nil) }
        guard hasMixture(la) else {
            guard columns[1].height >= 10 else { return (left[0], left[1], columns[1], nil, nil, nil) }
            let right = columns[1].rows([.fixed(min(24, columns[1].height * 2 / 3)), .fill(1)])
            return (left[0], left[1], right[1], nil, nil, right[0])
        }
        let right = columns[1].rows([.fixed(min(la.experts + 4, columns[1].height / 2)), .fill(1)])
        guard right[1].height >= 10 else { return (left[0], left[1], columns[1], right[0], right[1], nil) }
        let lower = right[1].rows([.fill(1), .fixed(min(14, right[1].height / 2))])
        return (left[0], left[1], columns[1], right[0], lower[0], lower[1])
    }

    /// The block index of the current layer according to the training log (before any analysis).
    static func historyLayer(_ state: InspectorState) -> Int? {
        guard let layers = state.history.latest?.layers, !layers.isEmpty else { return nil }
        return layers[min(max(state.layerIndex, 0), layers.count - 1)].layer
    }

    /// The experts of the load panel on screen: a page of `order` (the display order) holding the
    /// selected expert; panel row i + 1 is expert `order[window.first + i]`.
    static func loadWindow(experts: Int, order: [Int], selected: Int?, inner: Rect) -> ListWindow {
        let focus = selected.flatMap { order.firstIndex(of: $0) } ?? 0
        return ListWindow(total: experts, visible: inner.height - 1 - quantileRows(experts: experts, inner: inner), focus: focus)
    }

    /// Rows the load panel gives its quantile footer: one when a row is left under every bar, or when
    /// the bars page anyway and two of them still show; none when it would cost a layer's last bar.
    static func quantileRows(experts: Int, inner: Rect) -> Int {
        if experts + 2 <= inner.height { return 1 }
        return experts + 1 > inner.height && inner.height >= 4 ? 1 : 0
    }

    /// One bar per expert on a scale where the fair share 1/E sits at the marker; percent printed;
    /// the `selected` expert's label is highlighted; the last row holds the load's quantiles (p50,
    /// p90, p99, max) over the fair share. Experts go in `order` (by index when it does not
    /// list them all), a page at a time, with the page's position in the title.
    static func renderLoadBars(_ load: [Double]?, order: [Int] = [], selected: Int? = nil, delta: [Double]? = nil,
                               pending: String? = nil, theme: Theme, title: String, titleTail: String = "", in area: Rect,
                               into buffer: inout ScreenBuffer) {
        let count = load?.count ?? 0
        let order = order.count == count ? order : Array(0..<count)
        let window = loadWindow(experts: count, order: order, selected: selected, inner: Panel.innerArea(area))
        let position = window.label("experts", unicode: theme.unicode)
        let inner = Panel.draw(title + (position.isEmpty ? "" : theme.dot + position) + titleTail, in: area, theme: theme, into: &buffer)
        guard let load, !load.isEmpty else {
            Panel.placeholder(pending ?? "no load yet", in: inner, style: theme.muted, mode: theme.mode, into: &buffer)
            return
        }
        let fair = 1 / Double(load.count)
        let scale = max(2 * fair, load.filter(\.isFinite).max() ?? 0)
        Text("fair 1/E = \(NumberText.percent(fair)) at " + (theme.unicode ? "│" : "|"), style: theme.muted,
             mode: theme.mode).render(in: inner.row(0), into: &buffer)
        let labelWidth = load.count > 100 ? 5 : 4
        for (i, e) in order[window.range].enumerated() {
            let row = inner.row(i + 1).columns([.fixed(labelWidth), .fill(1), .fixed(delta == nil ? 8 : 14)])
            buffer.put("e\(e)", at: row[0].x, y: row[0].y, style: e == selected ? theme.selected : theme.series(e), clip: row[0])
            let share = load[e]
            let style = share < 0.1 * fair || !share.isFinite ? theme.bad : share < 0.5 * fair ? theme.warn : theme.good
            HorizontalBar(fraction: share / scale, style: style, marker: fair / scale, markerStyle: theme.strong,
                          mode: theme.mode).render(in: row[1], into: &buffer)
            var label = NumberText.percent(share)
            if let delta, e < delta.count, delta[e].isFinite {
                label += " " + ViewFormat.signedPoints(delta[e])
            }
            Text(label, style: style, alignment: .right, mode: theme.mode).render(in: row[2], into: &buffer)
        }
        // The shape of the whole load, whatever page is shown: its quantiles over the fair share.
        if quantileRows(experts: load.count, inner: inner) > 0 {
            Text(ViewFormat.loadQuantiles(load, width: inner.width), style: theme.muted, mode: theme.mode)
                .render(in: inner.row(inner.height - 1), into: &buffer)
        }
    }
}
