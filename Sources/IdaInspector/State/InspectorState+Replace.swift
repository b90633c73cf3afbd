extension InspectorState {
    /// The followed directory now holds another run (`rm -rf RUN` and a new run trained into the
    /// same path): drops everything read from the old one (log, snapshots, analyses, a comparison
    /// pinned to one of its steps, typed text run through its model, the probe) and says so in the
    /// alerts. Screen, orderings and display choices stay; following resumes.
    mutating func startOver(_ identity: RunIdentity) {
        history = RunHistory()
        snapshots = []
        selectedStep = nil
        pinnedStep = nil
        analysis = nil
        analyzing = nil
        analysisFailure = nil
        liveText = nil
        if case .text? = prompt { prompt = nil }
        tokens = []
        domains = nil
        vocabulary = .bytes
        domainNames = []
        cursor = 0
        layerIndex = 0
        selectedExpert = nil
        selectedComponent = nil
        zoom = 1
        pan = (0, 0)
        following = true
        switch comparison?.target {
        case .step?:
            // B was a step of the old run.
            comparison = nil
            split = false
        case .checkpoint?:
            // B (another checkpoint or run) stays; its comparison with the old run's A goes.
            comparison?.result = nil
            comparison?.forStep = nil
            comparison?.running = false
        case nil:
            break
        }
        settings = identity.settings
        trainingNote = identity.trainingNote
        lossUnit = identity.lossUnit
        let started = identity.startedText.map { " (started \($0))" } ?? ""
        runNotice = "\(title) now holds a new run\(started); starting over"
        message = runNotice
    }

    /// Shows `probe`'s tokens, domains and names (the cursor kept inside the text).
    mutating func show(_ probe: ProbeText) {
        tokens = probe.tokens
        domains = probe.domains
        vocabulary = probe.vocabulary
        domainNames = probe.domainNames
        cursor = min(cursor, max(0, tokens.count - 1))
    }
}
