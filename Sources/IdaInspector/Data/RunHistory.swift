import IdaFormats

/// Everything the event log has said about a run, as series the screens can draw.
public struct RunHistory: Sendable, Equatable {
    /// One training step's figures.
    public struct StepRecord: Sendable, Equatable {
        /// Step number.
        public var step: Int
        /// Training loss (nats per byte).
        public var loss: Double
        /// Mean CV of the expert load over MoE layers.
        public var cvMean: Double
        /// Training tokens per second.
        public var tokensPerSecond: Double
        /// Per MoE layer: block index, load [E], CV, entropy, dead components (IDA) or nil.
        public var layers: [LayerRecord]
    }

    /// One MoE layer's figures at one step.
    public struct LayerRecord: Sendable, Equatable {
        /// Block index.
        public var layer: Int
        /// Share of assignments per expert [E].
        public var load: [Double]
        /// CV of the load.
        public var cv: Double
        /// Mean routing entropy (bits).
        public var entropy: Double
        /// IDA negative log-likelihood.
        public var nll: Double?
        /// Dead components (IDA).
        public var dead: Int?
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
    /// Validation passes: step and bits per byte.
    public private(set) var evals: [(step: Int, bitsPerByte: Double)] = []
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

    public static func == (a: RunHistory, b: RunHistory) -> Bool {
        a.steps == b.steps && a.evals.map(\.step) == b.evals.map(\.step)
            && a.evals.map(\.bitsPerByte) == b.evals.map(\.bitsPerByte) && a.reactivations == b.reactivations
            && a.snapshots == b.snapshots && a.finished == b.finished && a.domains == b.domains
    }

    /// Folds new events in; unknown kinds and malformed fields are ignored.
    public mutating func append(_ records: [EventRecord]) {
        for r in records {
            let f = r.fields
            switch r.kind {
            case "start":
                domains = f["domains"]?.array?.compactMap(\.string) ?? domains
            case "resume":
                steps.removeAll { $0.step > r.step }
                evals.removeAll { $0.step > r.step }
                reactivations.removeAll { $0.step > r.step }
                snapshots.removeAll { $0 > r.step }
                finished = false
            case "step":
                let layers = (f["layers"]?.array ?? []).compactMap { l -> LayerRecord? in
                    guard let layer = l["layer"]?.int, let load = l["load"]?.array?.compactMap(\.double) else { return nil }
                    return LayerRecord(layer: layer, load: load, cv: l["cv"]?.double ?? .nan,
                                       entropy: l["entropy"]?.double ?? .nan, nll: l["nll"]?.double, dead: l["dead"]?.int)
                }
                steps.append(StepRecord(step: r.step, loss: f["loss"]?.double ?? .nan, cvMean: f["cv_mean"]?.double ?? .nan,
                                        tokensPerSecond: f["tokens_per_s"]?.double ?? .nan, layers: layers))
            case "eval":
                if let bpb = f["val_bpb"]?.double { evals.append((r.step, bpb)) }
            case "reactivation":
                if let event = f["event"]?.string, let layer = f["layer"]?.int, let component = f["component"]?.int {
                    reactivations.append(ReactivationRecord(step: r.step, event: event, layer: layer, component: component,
                                                            expert: f["expert"]?.int ?? 0, prior: f["prior"]?.double ?? .nan,
                                                            usage: f["usage"]?.double ?? .nan))
                }
            case "snapshot":
                if !snapshots.contains(r.step) { snapshots.append(r.step) }
            case "done":
                finished = true
            default:
                continue
            }
        }
    }

    /// The newest step record.
    public var latest: StepRecord? { steps.last }
}
