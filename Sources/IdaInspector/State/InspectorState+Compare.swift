import IdaAnalysis
import IdaRouting

extension InspectorState {
    /// `c`: compare the shown step with the selected one from now on (split view on); pressing it
    /// again on the pinned step unpins.
    mutating func pinComparison() -> [Effect] {
        guard let step = selectedStep else {
            message = "no snapshot to pin yet"
            return []
        }
        if pinnedStep == step {
            pinnedStep = nil
            comparison = nil
            split = false
            message = "comparison cleared"
            return []
        }
        pinnedStep = step
        comparison = CompareState(target: .step(step))
        split = true
        message = "pinned step \(step) as B; pick another step (Left/Right, Timeline) to compare; | toggles the split"
        return requestComparison()
    }

    /// Starts a comparison of the shown step with the target unless one is running or up to date.
    mutating func requestComparison() -> [Effect] {
        guard var c = comparison, !c.running, liveText == nil, let a = selectedStep, analysis != nil else { return [] }
        guard c.forStep != a || c.result == nil else { return [] }
        c.running = true
        comparison = c
        return [.compare(stepA: a, target: c.target)]
    }

    /// Stores a finished comparison (or its failure) and asks for a fresh one if A moved meanwhile.
    mutating func compared(stepA: Int, target: CompareTarget, result: Result<ComparisonResult, AnalysisFailure>) -> [Effect] {
        guard var c = comparison, c.target == target else { return [] }
        c.running = false
        switch result {
        case let .success(r):
            c.result = r
            c.forStep = stepA
        case let .failure(failure):
            c.forStep = stepA
            message = failure.message
        }
        comparison = c
        if case .failure = result { return [] }
        return requestComparison()
    }

    /// The comparison of the shown layer, when one is ready for the shown step.
    public var layerComparison: LayerComparison? {
        guard let layer, let c = comparison, c.forStep == selectedStep else { return nil }
        return c.result?.layers[layer]
    }
}
