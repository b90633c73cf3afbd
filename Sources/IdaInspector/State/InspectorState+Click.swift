import IdaTerminal

extension InspectorState {
    /// Applies a click: switches tab, moves the token cursor, or selects an expert or component
    /// and says what it is in the message line. Clicking the selected expert again clears it.
    mutating func click(_ target: ClickTarget) -> [Effect] {
        switch target {
        case let .tab(s):
            screen = s
        case let .token(i):
            moveCursor(to: i)
        case let .expert(e):
            if selectedExpert == e && selectedComponent == nil {
                selectedExpert = nil
                message = nil
            } else {
                selectedExpert = e
                selectedComponent = nil
                message = expertSummary(e)
            }
        case let .component(k):
            selectedComponent = k
            let m = layerAnalysis?.componentsPerExpert ?? 0
            selectedExpert = m > 0 ? k / m : nil
            message = componentSummary(k)
        case let .layerExpert(index, e):
            let count = analysis?.layerOrder.count ?? 0
            if count > 0 { layerIndex = min(max(index, 0), count - 1) }
            selectedExpert = e
            selectedComponent = nil
            message = expertSummary(e)
        }
        return []
    }

    /// "layer 2 · e3: load 25.1% (2.01x fair) · 9 of 16 components live · prior mass 24.0%".
    func expertSummary(_ e: Int) -> String {
        guard let la = layerAnalysis, e >= 0, e < la.metrics.load.count else { return "expert \(e)" }
        let share = la.metrics.load[e]
        let fair = 1 / Double(max(1, la.metrics.load.count))
        var parts = ["layer \(la.layer) · e\(e): load \(NumberText.percent(share)) (\(NumberText.fixed(share / fair, decimals: 2))x fair)"]
        let m = la.componentsPerExpert
        if m > 0, la.priors.count == la.experts * m {
            let dead = Set(la.deadComponents)
            let live = (e * m..<(e + 1) * m).filter { !dead.contains($0) }.count
            let mass = la.priors[e * m..<(e + 1) * m].reduce(0, +)
            parts.append("\(live) of \(m) components live")
            parts.append("prior mass \(NumberText.percent(mass))")
        }
        return parts.joined(separator: " · ")
    }

    /// "layer 0 · k37 (e2, m5): prior 1.23% · usage 0.80% · dead".
    func componentSummary(_ k: Int) -> String {
        guard let la = layerAnalysis, k >= 0, k < la.priors.count, la.componentsPerExpert > 0 else { return "component \(k)" }
        let m = la.componentsPerExpert
        var parts = ["layer \(la.layer) · k\(k) (e\(k / m), m\(k % m)): prior \(NumberText.percent(la.priors[k]))"]
        if let usage = la.metrics.componentUsage, k < usage.count {
            parts.append("probe usage \(NumberText.percent(usage[k]))")
        }
        let fair = 1 / Double(la.priors.count)
        parts.append("fair \(NumberText.percent(fair))")
        if la.deadComponents.contains(k) { parts.append("dead") }
        return parts.joined(separator: " · ")
    }
}
