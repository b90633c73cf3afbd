import IdaFormats
import IdaRouting
import IdaTerminal

/// Everything the inspector shows, as a value: events change it through `update`, views draw it.
public struct InspectorState: Sendable {
    /// What is being inspected, for the title bar.
    public var title: String
    /// The run's distinguishing settings ("reactivation reset · latent rms · seed 1"), when known.
    public var settings: String?
    /// What the training panel says while the log holds no step, when the run says why (a capture).
    public var trainingNote: String?
    /// What the run's loss is per, for its label.
    public var lossUnit: LossUnit = .natsPerByte
    /// True for a live run directory, false for a single checkpoint.
    public var live: Bool
    /// Current screen.
    public var screen: Screen = .overview
    /// Help overlay shown.
    public var showHelp = false
    /// Index into the MoE layers of the analysis.
    public var layerIndex = 0
    /// Token under the cursor (tokens screen).
    public var cursor = 0
    /// The prompt open in the footer (search, go to, typed text), which takes the keys (nil: none).
    public var prompt: Prompt?
    /// How the overview and layer screens order experts and layers.
    public var order: ListOrder = .index
    /// The last search.
    public var searchQuery = ""
    /// Latent view zoom (1 = fit).
    public var zoom = 1.0
    /// Latent view pan, in shares of the fitted width and height.
    public var pan = (0.0, 0.0)
    /// Colour latent points and tokens by domain instead of top-1 expert.
    public var colorByDomain = false
    /// Values printed on heatmaps.
    public var showValues = false
    /// The expert-parallel view of the Overview's layer table (`--ep G`, `--placement FILE`,
    /// `--redundant R`, key `g`): how experts sit on ranks, and whether the view is shown.
    public var expertParallel = ExpertParallelPlan()
    /// The Layer screen shows what each expert takes instead of the reactivation log (`t`).
    public var showTakes = false
    /// Following the live run's newest snapshot.
    public var following = true
    /// Snapshot steps available, ascending.
    public var snapshots: [Int] = []
    /// The snapshot shown.
    public var selectedStep: Int?
    /// The pinned comparison step.
    public var pinnedStep: Int?
    /// The run's event history.
    public var history = RunHistory()
    /// Analysis of the selected snapshot (nil while none is ready).
    public var analysis: SnapshotAnalysis?
    /// Step being analysed off the UI thread.
    public var analyzing: Int?
    /// Probe token ids.
    public var tokens: [Int32] = []
    /// Probe token domains.
    public var domains: [Int32]?
    /// How token ids read as text.
    public var vocabulary: Vocabulary = .bytes
    /// Domain names.
    public var domainNames: [String] = []
    /// The probe put aside while typed text is shown in its place (nil: the probe is shown).
    public var liveText: LiveText?
    /// The comparison (B), when one is set up with `c` or `--compare`.
    public var comparison: CompareState?
    /// Screens split into A | B (when a comparison exists).
    public var split = false
    /// Expert selected by a click (highlighted on the overview and layer screens).
    public var selectedExpert: Int?
    /// Mixture component selected by a click on the prior heatmap.
    public var selectedComponent: Int?
    /// Colours and glyphs of the terminal (the token layout and hit-testing depend on them).
    public var displayMode: DisplayMode = .full
    /// How many items one page of the overview's layers and of the layer screen's experts shows, as
    /// the views last said (`.geometry`).
    public var geometry = ScreenGeometry()
    /// Terminal size.
    public var width = 80
    /// Terminal size.
    public var height = 24
    /// One-line status or error message.
    public var message: String?
    /// Why the selected snapshot could not be analysed (nil once an analysis succeeds).
    public var analysisFailure: String?
    /// What is wrong with the followed run's files (directory gone, lines skipped), for the alerts.
    public var runProblems: [RunProblem] = []
    /// Whether a writer holds the followed run's lock, as the last poll found (nil: not asked yet).
    public var writer: RunLock.Writer?
    /// Said in the alerts once the followed directory held another run and the inspector started over.
    public var runNotice: String?

    /// A state for a run or checkpoint titled `title`, with the run's `settings` for the title line,
    /// following its newest snapshot or not, and split A | B against `comparison` when one is given.
    public init(title: String, live: Bool, settings: String? = nil, trainingNote: String? = nil,
                lossUnit: LossUnit = .natsPerByte, following: Bool = true, comparison: CompareState? = nil,
                expertParallel: ExpertParallelPlan = ExpertParallelPlan()) {
        self.expertParallel = expertParallel
        self.title = title
        self.live = live
        self.settings = settings
        self.trainingNote = trainingNote
        self.lossUnit = lossUnit
        self.following = following
        self.comparison = comparison
        split = comparison != nil
    }

    /// The MoE block shown, if an analysis is loaded.
    public var layer: Int? {
        guard let order = analysis?.layerOrder, !order.isEmpty else { return nil }
        return order[min(max(layerIndex, 0), order.count - 1)]
    }

    /// The analysis of the shown layer.
    public var layerAnalysis: LayerAnalysis? {
        guard let layer else { return nil }
        return analysis?.layers[layer]
    }
}

/// Things that happen to the inspector.
public enum InspectorEvent: Sendable {
    /// A key press.
    case key(Key)
    /// The mouse wheel turned one notch, away from the user (up) or towards.
    case scroll(up: Bool)
    /// A left click, as the views resolved it: what is drawn where it landed.
    case click(ClickTarget)
    /// The terminal changed size.
    case resize(width: Int, height: Int)
    /// The terminal's colours and glyphs (known once it is open; the token layout depends on them).
    case display(DisplayMode)
    /// The views' geometry for the state as it now is (page sizes), handed in by the runtime.
    case geometry(ScreenGeometry)
    /// New complete event-log lines.
    case events([RunEvent])
    /// New complete snapshots.
    case snapshots([Int])
    /// A comparison of A's step with the target finished (or failed with a one-line message).
    case compared(stepA: Int, target: CompareTarget, result: Result<ComparisonResult, AnalysisFailure>)
    /// Typed text was run through the model and routed (or failed with a one-line message).
    case textAnalyzed(text: String, step: Int, result: Result<SnapshotAnalysis, AnalysisFailure>)
    /// Some layers of an analysis are ready (the layer on screen first); the rest follow.
    case analysisProgress(step: Int, SnapshotAnalysis)
    /// An analysis finished (or failed with a one-line message).
    case analyzed(step: Int, result: Result<SnapshotAnalysis, AnalysisFailure>)
    /// What is wrong with the followed run's files now (empty: nothing); replaces the previous list.
    case runProblems([RunProblem])
    /// Whether a writer holds the followed run's lock now (asked at every poll).
    case writer(RunLock.Writer)
    /// The followed directory now holds another run (this one): everything of the old one goes.
    case runReplaced(RunIdentity)
    /// The probe's tokens, domains and names for the screens (the run's probe appeared or changed).
    case probeText(ProbeText)
}

extension InspectorEvent {
}

/// Something wrong with the followed run's files, shown in the alerts panel.
public struct RunProblem: Sendable, Equatable {
    /// One line for the user.
    public var text: String
    /// An error (the run is gone) rather than a warning (lines skipped).
    public var serious: Bool

    /// A problem.
    public init(_ text: String, serious: Bool) {
        self.text = text
        self.serious = serious
    }
}

/// A failed analysis, carried as its one-line message.
public struct AnalysisFailure: Error, Sendable, Equatable {
    /// The message, escaped (`UntrustedText`): errors quote paths, tensor names and metadata.
    public var message: String
    /// A failure with this message.
    public init(_ message: String) { self.message = UntrustedText.sanitized(message) }
}

/// Work the inspector asks its runtime to do off the UI thread.
public enum Effect: Sendable, Equatable {
    /// Analyse the snapshot at this step (or the checkpoint, step -1).
    case analyze(step: Int)
    /// Route the probe through snapshot `stepA` and the target and compare them.
    case compare(stepA: Int, target: CompareTarget)
    /// Run typed text through the model of snapshot `step` and route it.
    case routeText(String, step: Int)
    /// Leave.
    case quit
}

/// Typed text shown in place of the probe, and the probe it stands in for.
public struct LiveText: Sendable {
    /// The text as typed.
    public var text: String
    /// The snapshot step whose model ran it.
    public var step: Int
    /// The probe's tokens, domains and analysis, restored when the live text is closed; probe
    /// analyses that finish meanwhile land here.
    public var probeTokens: [Int32]
    /// The probe's domains.
    public var probeDomains: [Int32]?
    /// The probe's analysis.
    public var probeAnalysis: SnapshotAnalysis?
    /// The token cursor on the probe.
    public var probeCursor: Int
}
