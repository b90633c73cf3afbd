/// Expert load per MoE layer for the overview heatmap and alerts, taken from the analysed
/// snapshot (the probe routed) or, before one is ready, from the training log.
struct LoadMatrix: Sendable, Equatable {
    /// Where the numbers come from, for the panel title.
    var source: String
    /// MoE block indices, one per row.
    var layers: [Int]
    /// load[row][e]: share of assignments per expert [layers][E].
    var loads: [[Double]]
    /// CV of each row's load.
    var cvs: [Double]
    /// Mean routing entropy of each row (bits).
    var entropies: [Double]
    /// IDA negative log-likelihood of each row (nil for softmax routers).
    var nlls: [Double?]
    /// Dead components of each row (nil for softmax routers).
    var dead: [Int?]

    /// Which CV `cvs` are: the probe's (the analysed snapshot's top-k load over the probe tokens) or
    /// the train CV (one training batch's top-k load).
    var cvName: String { source.hasPrefix("probe") ? "probe CV" : "train CV" }

    /// Experts E (the widest row).
    var experts: Int { loads.map(\.count).max() ?? 0 }

    /// The matrix for the state: analysis metrics when present, else the history record at the
    /// selected step (or the newest one); nil when neither has any layer.
    static func from(_ state: InspectorState) -> LoadMatrix? {
        if let analysis = state.analysis {
            let layers = analysis.layerOrder.filter { analysis.layers[$0] != nil }
            guard !layers.isEmpty else { return nil }
            let metrics = layers.compactMap { analysis.layers[$0]?.metrics }
            let step = analysis.step.map { " @ step \($0)" } ?? ""
            // While the background routes the other layers, the rows present say how far it got.
            let progress = analysis.isComplete ? "" : ", \(layers.count)/\(analysis.layerOrder.count) layers"
            return LoadMatrix(source: "probe" + step + progress, layers: layers, loads: metrics.map(\.load), cvs: metrics.map(\.cv),
                              entropies: metrics.map(\.meanEntropyBits), nlls: metrics.map(\.nll),
                              dead: metrics.map(\.deadComponents))
        }
        let steps = state.history.steps
        let record = state.selectedStep.flatMap { s in steps.last { $0.step == s } } ?? steps.last
        guard let record, !record.layers.isEmpty else { return nil }
        return LoadMatrix(source: "training batch @ step \(record.step)", layers: record.layers.map(\.layer),
                          loads: record.layers.map(\.load), cvs: record.layers.map(\.cv),
                          entropies: record.layers.map(\.entropy), nlls: record.layers.map(\.nll),
                          dead: record.layers.map(\.dead))
    }

    /// Experts below `threshold` times the fair share 1/E: (row, expert, share), in row then expert order.
    func starved(below threshold: Double = 0.1) -> [(row: Int, expert: Int, share: Double)] {
        var out: [(row: Int, expert: Int, share: Double)] = []
        for (row, load) in loads.enumerated() where !load.isEmpty {
            let fair = 1 / Double(load.count)
            for (e, share) in load.enumerated() where share < threshold * fair { out.append((row, e, share)) }
        }
        return out
    }
}
