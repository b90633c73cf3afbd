import IdaTerminal

extension InspectorView {
    /// The geometry the state pages with, from the layout the views draw `state` with at its size.
    public static func geometry(_ state: InspectorState) -> ScreenGeometry {
        ScreenGeometry(layersPerPage: layersPerPage(state), expertsPerPage: expertsPerPage(state))
    }

    /// Heatmap rows of layers on the overview; 1 when nothing is drawn.
    static func layersPerPage(_ state: InspectorState) -> Int {
        let body = bodyArea(in: Rect(x: 0, y: 0, width: state.width, height: state.height))
        guard let matrix = LoadMatrix.from(state), matrix.experts > 0 else { return 1 }
        let alerts = Alert.all(for: state, ellipsis: "…").count
        let load = OverviewView.layout(state, matrix: matrix, alerts: alerts, area: body).load
        return max(1, LoadGrid(matrix: matrix, state: state, inner: Panel.innerArea(load)).rows.count)
    }

    /// Load bars of experts on the layer screen; 1 when nothing is drawn.
    static func expertsPerPage(_ state: InspectorState) -> Int {
        let body = bodyArea(in: Rect(x: 0, y: 0, width: state.width, height: state.height))
        let experts = LayerView.currentLoad(state)?.count ?? 0
        let inner = Panel.innerArea(LayerView.layout(state, area: body).load)
        return max(1, LayerView.loadWindow(experts: experts, order: state.expertOrder, selected: state.selectedExpert,
                                           inner: inner).count)
    }
}
