import Foundation

/// How the overview and layer screens order their long lists (`o` cycles through them).
public enum ListOrder: Sendable, Equatable, CaseIterable {
    /// Experts and layers by index.
    case index
    /// Experts by load on the shown layer, most loaded first (layers by index).
    case load
    /// Layers by the probe CV of their load, least balanced first (experts by index).
    case cv

    /// For the panel titles and the message line.
    public var label: String {
        switch self {
        case .index: return "by index"
        case .load: return "experts by load"
        case .cv: return "layers by probe CV"
        }
    }

    /// The next order in the cycle.
    var next: ListOrder {
        let all = ListOrder.allCases
        return all[((all.firstIndex(of: self) ?? 0) + 1) % all.count]
    }
}

extension InspectorState {
    /// Experts of the shown layer in display order (indices 0..<E).
    public var expertOrder: [Int] {
        guard let load = expertLoad else { return [] }
        let all = Array(load.indices)
        guard order == .load else { return all }
        return all.sorted { load[$0] != load[$1] ? load[$0] > load[$1] : $0 < $1 }
    }

    /// The shown layer's load per expert: the analysed probe's, else the newest training step's.
    var expertLoad: [Double]? {
        if let la = layerAnalysis { return la.metrics.load }
        guard let layers = history.latest?.layers, !layers.isEmpty else { return nil }
        return layers[min(max(layerIndex, 0), layers.count - 1)].load
    }

    /// Indices into `analysis.layerOrder` in the overview's row order.
    public var layerRowOrder: [Int] {
        guard let analysis else { return [] }
        let all = Array(analysis.layerOrder.indices)
        guard order == .cv else { return all }
        let cv = all.map { analysis.layers[analysis.layerOrder[$0]]?.metrics.cv ?? -.infinity }
        // NaN CVs (no tokens) sort last; ties by index.
        func key(_ i: Int) -> Double { cv[i].isNaN ? -.infinity : cv[i] }
        return all.sorted { key($0) != key($1) ? key($0) > key($1) : $0 < $1 }
    }

    /// Selects the expert `delta` places after the selected one in display order (the first when none is).
    mutating func moveExpert(by delta: Int) {
        let shown = expertOrder
        guard !shown.isEmpty else { return }
        let position = selectedExpert.flatMap { shown.firstIndex(of: $0) }
        // With nothing selected a step selects the first (or last) expert, a page counts from the first.
        let from = position ?? (abs(delta) > 1 ? 0 : delta > 0 ? -1 : shown.count)
        let next = min(max(from + delta, 0), shown.count - 1)
        selectExpert(shown[next])
    }

    /// Selects the layer `delta` rows after the shown one in the overview's row order.
    mutating func moveLayerRow(by delta: Int) {
        let rows = layerRowOrder
        guard !rows.isEmpty else { return }
        let position = rows.firstIndex(of: layerIndex) ?? 0
        layerIndex = rows[min(max(position + delta, 0), rows.count - 1)]
    }

    /// Selects expert `e` of the shown layer and says what it is in the message line.
    mutating func selectExpert(_ e: Int) {
        selectedExpert = e
        selectedComponent = nil
        message = expertSummary(e)
    }

    /// Applies the jump prompt's text: "e12" or "12" selects expert 12, "L7" shows MoE block 7.
    mutating func jump(to text: String) {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t.hasPrefix("l") {
            guard let block = Int(t.dropFirst()), let index = analysis?.layerOrder.firstIndex(of: block) else {
                message = "no MoE layer \(t.dropFirst()): layers are " + layerRange
                return
            }
            layerIndex = index
            message = nil
            return
        }
        let digits = t.hasPrefix("e") ? String(t.dropFirst()) : t
        let experts = expertLoad?.count ?? 0
        guard let e = Int(digits), e >= 0, e < experts else {
            message = "no expert \"\(text)\": type e0...e\(max(0, experts - 1)) or L<block> (" + layerRange + ")"
            return
        }
        selectExpert(e)
    }

    /// "L0...L47" for messages.
    var layerRange: String {
        guard let order = analysis?.layerOrder, let first = order.first, let last = order.last else { return "none yet" }
        return order.count == 1 ? "L\(first)" : "L\(first)...L\(last)"
    }
}
