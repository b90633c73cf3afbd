import IdaNumerics
import IdaFormats
import IdaRouting

/// Everything the event log has said about a run, as series the screens can draw.
public struct RunHistory: Sendable, Equatable {
    /// One training step's figures.
    public struct StepRecord: Sendable, Equatable {
        /// Step number.
        public var step: Int
        /// Training loss (nats per byte): NaN when the line says `null` (the trainer writes a
        /// non-finite loss so), nil when it holds no number (absent, a string, ...: nothing to show).
        public var loss: Double?
        /// Train CV: the mean over MoE layers of the CV of this step's training-batch top-k load
        /// (one batch only; not the held-out CV of `EvalRecord`).
        public var cvMean: Double
        /// Training tokens per second.
        public var tokensPerSecond: Double
        /// Per MoE layer: block index, load [E], CV, entropy, dead components (IDA) or nil.
        public var layers: [LayerRecord]

        /// The mean over MoE layers of the MaxVio of this step's batch load (nil without layers), as
        /// `cvMean` is of the CV.
        public var maxVioMean: Double? {
            layers.isEmpty ? nil : layers.reduce(0) { $0 + LayerMetrics.maxViolation($1.load) } / Double(layers.count)
        }
    }

    /// One MoE layer's figures at one step.
    public struct LayerRecord: Sendable, Equatable {
        /// Block index.
        public var layer: Int
        /// Share of assignments per expert [E].
        public var load: [Double]
        /// Train CV of the layer: CV of this step's training-batch top-k load.
        public var cv: Double
        /// Mean routing entropy (bits).
        public var entropy: Double
        /// IDA negative log-likelihood.
        public var nll: Double?
        /// Dead components (IDA).
        public var dead: Int?
    }

    /// One validation pass: bits per byte and, in runs since the held-out CV was logged, the held-out CV of the same
    /// validation tokens (the paper's CVmean), each nil when the line has none.
    public struct EvalRecord: Sendable, Equatable {
        /// Step.
        public var step: Int
        /// Validation bits per byte (NaN when the line has none).
        public var bitsPerByte: Double
        /// Held-out CVmean of the top-1 load, averaged over MoE layers.
        public var heldoutTop1: Double?
        /// Held-out CVmean of the top-k load (the figure the screens lead with).
        public var heldoutTopK: Double?
        /// Held-out CVmean of the gate-weighted load.
        public var heldoutGate: Double?
        /// Validation tokens the held-out CV covers.
        public var heldoutTokens: Int?
        /// Bits per byte of the held-out domains (`--holdout-domains`).
        public var heldoutDomainsBitsPerByte: Double?
        /// Per MoE layer: block index and its held-out CVs.
        public var layers: [EvalLayer] = []
        /// Held-out MaxVio of the top-k load averaged over MoE layers: the event's, else from the layers' loads.
        public var heldoutMaxVioTopK: Double?

        /// Whether the line carried any held-out CV.
        public var hasHeldoutCV: Bool { heldoutTopK != nil || heldoutTop1 != nil || heldoutGate != nil }
    }

    /// One MoE layer's held-out CVs at one validation pass.
    public struct EvalLayer: Sendable, Equatable {
        /// Block index.
        public var layer: Int
        /// CV of the top-1 load.
        public var cvTop1: Double?
        /// CV of the top-k load.
        public var cvTopK: Double?
        /// CV of the gate-weighted load.
        public var cvGate: Double?
    }

    /// A component that died, was intervened on (reset or pulled) or was revived (docs/format.md).
    public struct ReactivationRecord: Sendable, Equatable {
        /// Step.
        public var step: Int
        /// "died", "reset", "pulled" or "revived".
        public var event: String
        /// Block index.
        public var layer: Int
        /// Component index.
        public var component: Int
        /// Expert owning it.
        public var expert: Int
        /// Its prior then.
        public var prior: Double
        /// Its usage EMA then (NaN when the line has none).
        public var usage: Double = .nan
    }

    /// Steps in order (a resume drops the steps after the snapshot it resumed from).
    public private(set) var steps: [StepRecord] = []
    /// Validation passes in order.
    public private(set) var evals: [EvalRecord] = []
    /// Reactivation events in order.
    public private(set) var reactivations: [ReactivationRecord] = []
    /// Snapshot steps announced by the log.
    public private(set) var snapshots: [Int] = []
    /// True once the run wrote `done`.
    public private(set) var finished = false
    /// Domain names from the `start` event.
    public private(set) var domains: [String] = []

    /// An empty history.
    public init() {}

    /// Folds new events in; unknown kinds are ignored (their records read leniently: `RunEvent`).
    public mutating func append(_ events: [RunEvent]) {
        for e in events {
            switch e.body {
            case let .start(start):
                domains = start.domains.map(UntrustedText.sanitized)
            case .resume:
                steps.removeAll { $0.step > e.step }
                evals.removeAll { $0.step > e.step }
                reactivations.removeAll { $0.step > e.step }
                snapshots.removeAll { $0 > e.step }
                finished = false
            case let .step(s):
                let layers = s.layers.map { l in
                    LayerRecord(layer: l.layer, load: l.load, cv: l.cv ?? .nan, entropy: l.entropy ?? .nan, nll: l.nll, dead: l.dead)
                }
                steps.append(StepRecord(step: e.step, loss: s.loss, cvMean: s.cvMean ?? .nan,
                                        tokensPerSecond: s.tokensPerSecond ?? .nan, layers: layers))
            case let .eval(v):
                if let eval = Self.eval(v, step: e.step) { evals.append(eval) }
            case let .reactivation(r):
                reactivations.append(ReactivationRecord(step: e.step, event: UntrustedText.sanitized(r.event), layer: r.layer,
                                                        component: r.component, expert: r.expert ?? 0, prior: r.prior ?? .nan,
                                                        usage: r.usage ?? .nan))
            case .snapshot:
                if !snapshots.contains(e.step) { snapshots.append(e.step) }
            case .done:
                finished = true
            case .other:
                continue
            }
        }
    }

    /// An eval record's figures, nil when it has neither bits per byte nor a held-out CV.
    static func eval(_ v: EvalEvent, step: Int) -> EvalRecord? {
        let layers = v.layers.map { EvalLayer(layer: $0.layer, cvTop1: $0.cvTop1, cvTopK: $0.cvTopK, cvGate: $0.cvGate) }
        // Runs written before the held-out MaxVio was logged: computed from the top-k loads they hold.
        let loads = v.layers.compactMap(\.loadTopK)
        let fromLoads = loads.isEmpty ? nil : loads.reduce(0) { $0 + LayerMetrics.maxViolation($1) } / Double(loads.count)
        let record = EvalRecord(step: step, bitsPerByte: v.bitsPerByte ?? .nan, heldoutTop1: v.heldoutTop1,
                                heldoutTopK: v.heldoutTopK, heldoutGate: v.heldoutGate, heldoutTokens: v.heldoutTokens,
                                heldoutDomainsBitsPerByte: v.heldoutDomainsBitsPerByte, layers: layers,
                                heldoutMaxVioTopK: v.heldoutMaxVioTopK ?? fromLoads)
        return v.bitsPerByte != nil || record.hasHeldoutCV ? record : nil
    }

    /// The newest validation pass that carried a held-out CV.
    public var latestHeldout: EvalRecord? { evals.last { $0.hasHeldoutCV } }

    /// The newest step record.
    public var latest: StepRecord? { steps.last }

    /// The newest step record whose line held a loss (a number, or `null` for a non-finite one).
    public var latestLoss: StepRecord? { steps.last { $0.loss != nil } }
}
