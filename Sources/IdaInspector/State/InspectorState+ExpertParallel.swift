extension InspectorState {
    /// Why the expert-parallel view cannot place one of the shown layers (nil: it can, or it is off):
    /// a placement file that lacks the layer or names experts it does not have.
    public var expertParallelProblem: String? {
        let layers: [(layer: Int, experts: Int)]
        if let a = analysis {
            layers = a.layerOrder.compactMap { l in a.layers[l].map { (l, $0.metrics.load.count) } }
        } else {
            layers = history.latest?.layers.map { ($0.layer, $0.load.count) } ?? []
        }
        return expertParallel.problem(layers)
    }
}
