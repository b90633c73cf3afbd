import IdaFormats
import IdaAnalysis
import IdaRouting

/// What the shown snapshot (A) is compared with.
public enum CompareTarget: Sendable, Equatable {
    /// Another snapshot step of the same source (pinned with `c`).
    case step(Int)
    /// A checkpoint file, run directory or `RUN@STEP` (`--compare`).
    case checkpoint(String)
}

/// B's routing of the probe and the per-layer comparison with A.
public struct ComparisonResult: Sendable {
    /// B's analysis (same tokens as A's).
    public var analysis: SnapshotAnalysis
    /// Per MoE block: agreement, load and entropy changes, component changes.
    public var layers: [Int: LayerComparison]
    /// B's step, when known.
    public var step: Int?
    /// A and B come from the same run (latents and indices comparable, one event log).
    public var sameRun: Bool
    /// B's run settings when B is another run's snapshot.
    public var settings: String?
    /// B's training log when B is another run's snapshot (its curves on B's half).
    public var history: RunHistory?
    /// What is compared: the same tokens through each model, or one probe's hidden states through both.
    public var basis: ComparisonBasis = .ownProbes

    /// A result.
    public init(analysis: SnapshotAnalysis, layers: [Int: LayerComparison], step: Int?, sameRun: Bool) {
        self.analysis = analysis
        self.layers = layers
        self.step = step
        self.sameRun = sameRun
    }
}

/// The comparison side of the state: what B is, its latest result and for which A step.
public struct CompareState: Sendable {
    /// What B is.
    public var target: CompareTarget
    /// B's result (nil until the first comparison finishes).
    public var result: ComparisonResult?
    /// The A step `result` was computed against.
    public var forStep: Int?
    /// A comparison is being computed.
    public var running = false
    /// B's training log when B is another run's snapshot, read when the comparison is set up (the
    /// Timeline plots its curves before the first comparison finishes).
    public var otherHistory: RunHistory?

    /// B's training log when B is another run: the latest comparison's, else the one read at setup.
    public var bHistory: RunHistory? {
        if let r = result { return r.sameRun ? nil : r.history ?? otherHistory }
        return otherHistory
    }

    /// A comparison with `target`, nothing computed yet.
    public init(target: CompareTarget) { self.target = target }

    /// "step 100" or the path given (escaped).
    public var label: String {
        switch target {
        case let .step(s): return "step \(s)"
        case let .checkpoint(spec):
            let shown = UntrustedText.sanitized(spec)
            return result?.step.map { "\(shown) (step \($0))" } ?? shown
        }
    }
}
