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
            let order = state.expertOrder.count == experts ? state.expertOrder : Array(0..<experts)
            let window = LayerView.loadWindow(experts: experts, order: order, selected: state.selectedExpert, inner: inner)
            let i = y - inner.y - 1
            guard inner.contains(x: x, y: y), i >= 0, i < window.count else { return nil }
            return .expert(order[window.first + i])
        }
        if let priors = parts.priors, priors.contains(x: x, y: y), let la = state.layerAnalysis {
            let grid = LayerView.PriorGrid(la, order: state.expertOrder, selected: state.selectedExpert,
                                           showValues: state.showValues, inner: Panel.innerArea(priors))
            return grid.target(atX: x, y: y, priors: la.priors).map(ClickTarget.component)
        }
        return nil
    }

    /// Cells of the layer x expert load heatmap.
    static func overviewTarget(atX x: Int, y: Int, state: InspectorState, body: Rect) -> ClickTarget? {
        guard let matrix = LoadMatrix.from(state), matrix.experts > 0 else { return nil }
        let alerts = Alert.all(for: state, ellipsis: "…").count
        let load = OverviewView.layout(state, matrix: matrix, alerts: alerts, area: body).load
        let grid = LoadGrid(matrix: matrix, state: state, inner: Panel.innerArea(load))
        guard let (row, expert) = grid.target(atX: x, y: y, matrix: matrix) else { return nil }
        // The heatmap's rows are MoE blocks; the state selects layers by index into the analysis.
        let block = matrix.layers[row]
        let index = state.analysis?.layerOrder.firstIndex(of: block) ?? row
        return .layerExpert(layerIndex: index, expert: expert)
    }
}
