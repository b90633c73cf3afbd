import IdaTerminal

extension InspectorView {
    /// What is drawn at screen cell (x, y) for `state` (sized `state.width` x `state.height`, in
    /// `state.displayMode`), for mouse clicks; nil for cells that do nothing. Uses the geometry the
    /// views draw with, so a click always means what the cell shows.
    public static func target(atX x: Int, y: Int, state: InspectorState) -> ClickTarget? {
        let screen = Rect(x: 0, y: 0, width: state.width, height: state.height)
        guard screen.width >= minimumSize.width, screen.height >= minimumSize.height, !state.showHelp else { return nil }
        if y == 0 { return TabBar.screen(at: x).map(ClickTarget.tab) }
        if state.split && state.comparison != nil { return nil }  // halves are for reading; keys drive both
        let body = bodyArea(in: screen)
        guard body.contains(x: x, y: y) else { return nil }
        switch state.screen {
        case .tokens:
            return TokensView.token(atX: x, y: y, state: state, mode: state.displayMode).map(ClickTarget.token)
        case .layer:
            return layerTarget(atX: x, y: y, state: state, body: body)
        case .overview:
            return overviewTarget(atX: x, y: y, state: state, body: body)
        case .latent, .timeline:
            return nil
        }
    }

    /// Load bars (row e + 1 of the load panel is expert e) and prior heatmap cells.
    static func layerTarget(atX x: Int, y: Int, state: InspectorState, body: Rect) -> ClickTarget? {
        let parts = LayerView.layout(state, area: body)
        if parts.load.contains(x: x, y: y) {
            let inner = Panel.innerArea(parts.load)
            let experts = LayerView.currentLoad(state)?.count ?? 0
            let shown = experts <= inner.height - 1 ? experts : max(0, inner.height - 2)
            let e = y - inner.y - 1
            guard inner.contains(x: x, y: y), e >= 0, e < shown else { return nil }
            return .expert(e)
        }
        if let priors = parts.priors, priors.contains(x: x, y: y), let la = state.layerAnalysis {
            let grid = HeatmapGrid(inner: Panel.innerArea(priors), columns: la.componentsPerExpert, labelWidth: 4,
                                   showValues: state.showValues)
            guard let (row, column) = grid.position(atX: x, y: y), row < la.experts else { return nil }
            return .component(row * la.componentsPerExpert + column)
        }
        return nil
    }

    /// Cells of the layer x expert load heatmap.
    static func overviewTarget(atX x: Int, y: Int, state: InspectorState, body: Rect) -> ClickTarget? {
        guard let matrix = LoadMatrix.from(state), matrix.experts > 0 else { return nil }
        let alerts = Alert.all(for: state, ellipsis: "…").count
        let load = OverviewView.layout(state, matrix: matrix, alerts: alerts, area: body).load
        let grid = HeatmapGrid(inner: Panel.innerArea(load), columns: matrix.experts, labelWidth: 7,
                               showValues: state.showValues)
        guard let (row, column) = grid.position(atX: x, y: y), row < matrix.layers.count,
              column < matrix.loads[row].count else { return nil }
        // The heatmap's rows are MoE blocks; the state selects layers by index into the analysis.
        let block = matrix.layers[row]
        let index = state.analysis?.layerOrder.firstIndex(of: block) ?? row
        return .layerExpert(layerIndex: index, expert: column)
    }
}
