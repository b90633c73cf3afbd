import IdaTerminal

extension InspectorView {
    /// Items on one page of the screen's long list (overview: heatmap rows of layers; layer screen:
    /// load bars of experts), from the geometry the views draw with; 1 when nothing is drawn.
    public static func pageSize(_ state: InspectorState) -> Int {
        let body = bodyArea(in: Rect(x: 0, y: 0, width: state.width, height: state.height))
        switch state.screen {
        case .overview:
            guard let matrix = LoadMatrix.from(state), matrix.experts > 0 else { return 1 }
            let alerts = Alert.all(for: state, ellipsis: "…").count
            let load = OverviewView.layout(state, matrix: matrix, alerts: alerts, area: body).load
            return max(1, LoadGrid(matrix: matrix, state: state, inner: Panel.innerArea(load)).rows.count)
        default:
            let experts = LayerView.currentLoad(state)?.count ?? 0
            let inner = Panel.innerArea(LayerView.layout(state, area: body).load)
            return max(1, LayerView.loadWindow(experts: experts, order: state.expertOrder, selected: state.selectedExpert,
                                               inner: inner).count)
        }
    }
}
