extension InspectorState {
    /// Longest text the prompt takes (bytes); the model runs it in windows of its context length.
    public static let liveTextLimit = 4096

    /// Enter on the text prompt: runs `text` through the model of the shown snapshot; empty text
    /// returns to the probe.
    mutating func routeText(_ text: String) -> [Effect] {
        guard !text.isEmpty else {
            closeLiveText()
            return []
        }
        guard let step = selectedStep else {
            message = "no snapshot yet to run text through"
            return []
        }
        message = "running \"\(text)\" through the model of step \(step)…"
        return [.routeText(text, step: step)]
    }

    /// Shows the routed text in place of the probe (the probe is put aside), or reports the failure.
    mutating func textAnalyzed(text: String, step: Int, result: Result<SnapshotAnalysis, AnalysisFailure>) -> [Effect] {
        switch result {
        case let .failure(failure):
            message = failure.message
        case let .success(a):
            if liveText == nil {
                liveText = LiveText(text: text, step: step, probeTokens: tokens, probeDomains: domains, probeAnalysis: analysis,
                                    probeCursor: cursor)
            }
            liveText?.text = text
            liveText?.step = step
            tokens = Array(text.utf8).map { Int32($0) }
            domains = nil
            analysis = a
            cursor = 0
            layerIndex = min(layerIndex, max(0, a.layerOrder.count - 1))
            message = "live text through step \(step): \(tokens.count) tokens · e edits · Escape returns to the probe"
        }
        return []
    }

    /// Puts the probe back in place of the live text (no-op when none is shown).
    mutating func closeLiveText() {
        guard let live = liveText else { return }
        tokens = live.probeTokens
        domains = live.probeDomains
        analysis = live.probeAnalysis
        liveText = nil
        cursor = min(live.probeCursor, max(0, tokens.count - 1))
        if let a = analysis { layerIndex = min(layerIndex, max(0, a.layerOrder.count - 1)) }
    }
}
