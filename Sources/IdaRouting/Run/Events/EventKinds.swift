/// `start`: the run's first line.
public struct StartEvent: Sendable, Equatable, Codable {
    /// Scalar parameters of the model (the routers alone for a capture).
    public var parameters: Int?
    /// Router kind (`ida`, `softmax`, `sigmoid-bias`).
    public var router: String?
    /// Domain names in id order.
    public var domains: [String]

    /// A start record.
    public init(parameters: Int?, router: String?, domains: [String]) {
        self.parameters = parameters
        self.router = router
        self.domains = domains
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case parameters, router, domains }

    /// Reads leniently: a field of the wrong type is absent.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        parameters = c.lenient(Int.self, .parameters)
        router = c.lenient(String.self, .router)
        domains = c.lenient([String].self, .domains) ?? []
    }
}

/// `step`: one optimizer step's figures. `load`, `cv` and `cvMean` are the training-batch CV: the
/// top-k load of this step's batch only.
public struct StepEvent: Sendable, Equatable, Codable {
    /// One MoE layer's figures at this step.
    public struct Layer: Sendable, Equatable, Codable {
        /// Block index.
        public var layer: Int
        /// Share of the batch's N*k assignments per expert [E].
        public var load: [Double]
        /// CV of `load`.
        public var cv: Double?
        /// MaxVio of `load`: the largest expert's load over the mean, minus 1.
        public var maxVio: Double?
        /// p50, p90, p99 and max of `load` over the experts (absent in runs before it was logged).
        public var loadQuantiles: ReportedQuantiles?
        /// Mean routing entropy, bits.
        public var entropy: Double?
        /// IDA: mixture negative log-likelihood, reconstruction and reactivation losses, dead components.
        public var nll: Double?, rec: Double?, react: Double?, dead: Int?
        /// Softmax routers: auxiliary balance loss and z-loss.
        public var aux: Double?, z: Double?
        /// Each rank's own load [R][E] (share of that rank's assignments per expert), when the step's
        /// records came from several ranks (imports of Megatron-Core and SGLang records); `load` is their sum.
        public var rankLoads: [[Double]]?

        /// A layer record.
        public init(layer: Int, load: [Double], cv: Double?, maxVio: Double? = nil, loadQuantiles: ReportedQuantiles? = nil,
                    entropy: Double?, nll: Double? = nil, rec: Double? = nil, react: Double? = nil, dead: Int? = nil,
                    aux: Double? = nil, z: Double? = nil, rankLoads: [[Double]]? = nil) {
            self.layer = layer
            self.load = load
            self.cv = cv
            self.maxVio = maxVio
            self.loadQuantiles = loadQuantiles
            self.entropy = entropy
            self.nll = nll
            self.rec = rec
            self.react = react
            self.dead = dead
            self.aux = aux
            self.z = z
            self.rankLoads = rankLoads
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case layer, load, cv, maxVio = "max_vio", loadQuantiles = "load_quantiles", entropy, nll, rec, react, dead, aux, z
            case rankLoads = "rank_loads"
        }

        /// Reads leniently; a layer without `layer` or `load` is not a layer.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            layer = try c.decode(Int.self, forKey: .layer)
            guard let load = c.figures(.load) else {
                throw DecodingError.keyNotFound(CodingKeys.load, .init(codingPath: c.codingPath, debugDescription: "no load"))
            }
            self.load = load
            cv = c.figure(.cv)
            maxVio = c.figure(.maxVio)
            loadQuantiles = c.lenient(ReportedQuantiles.self, .loadQuantiles)
            entropy = c.figure(.entropy)
            nll = c.figure(.nll)
            rec = c.figure(.rec)
            react = c.figure(.react)
            dead = c.lenient(Int.self, .dead)
            aux = c.figure(.aux)
            z = c.figure(.z)
            rankLoads = c.lenient([[Double?]].self, .rankLoads).map { $0.map { $0.map { $0 ?? .nan } } }
        }

        /// Writes figures rounded, absent ones left out.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(layer, forKey: .layer)
            try c.encodeFigures(load, forKey: .load)
            try c.encodeFigureIfPresent(cv, forKey: .cv)
            try c.encodeFigureIfPresent(maxVio, forKey: .maxVio)
            try c.encodeIfPresent(loadQuantiles, forKey: .loadQuantiles)
            try c.encodeFigureIfPresent(entropy, forKey: .entropy)
            try c.encodeFigureIfPresent(nll, forKey: .nll)
            try c.encodeFigureIfPresent(rec, forKey: .rec)
            try c.encodeFigureIfPresent(react, forKey: .react)
            try c.encodeIfPresent(dead, forKey: .dead)
            try c.encodeFigureIfPresent(aux, forKey: .aux)
            try c.encodeFigureIfPresent(z, forKey: .z)
            if let rankLoads {
                var ranks = c.nestedUnkeyedContainer(forKey: .rankLoads)
                for load in rankLoads {
                    var list = ranks.nestedUnkeyedContainer()
                    for x in load {
                        if x.isFinite { try list.encode(EventCoding.rounded(x)) } else { try list.encodeNil() }
                    }
                }
            }
        }
    }

    /// Training loss, nats per byte: NaN when written `null` (a non-finite loss), nil when absent.
    public var loss: Double?
    /// Learning rates of the backbone and of the routers.
    public var lr: Double?, routerLR: Double?
    /// Gradient norms before clipping, backbone and routers.
    public var gradNorm: Double?, routerGradNorm: Double?
    /// Training tokens per second.
    public var tokensPerSecond: Double?
    /// Mean over MoE layers of `Layer.cv`.
    public var cvMean: Double?
    /// Tokens routed at this step (over every rank), when the writer says (imports do).
    public var tokens: Int?
    /// Per MoE layer.
    public var layers: [Layer]

    /// A step record.
    public init(loss: Double?, lr: Double? = nil, routerLR: Double? = nil, gradNorm: Double? = nil, routerGradNorm: Double? = nil,
                tokensPerSecond: Double? = nil, cvMean: Double?, tokens: Int? = nil, layers: [Layer]) {
        self.loss = loss
        self.lr = lr
        self.routerLR = routerLR
        self.gradNorm = gradNorm
        self.routerGradNorm = routerGradNorm
        self.tokensPerSecond = tokensPerSecond
        self.cvMean = cvMean
        self.tokens = tokens
        self.layers = layers
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case loss, lr, routerLR = "router_lr", gradNorm = "grad_norm", routerGradNorm = "router_grad_norm"
        case tokensPerSecond = "tokens_per_s", cvMean = "cv_mean", tokens, layers
    }

    /// Reads leniently: odd fields are absent, layers that are not layers are left out.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        loss = c.figure(.loss)
        lr = c.figure(.lr)
        routerLR = c.figure(.routerLR)
        gradNorm = c.figure(.gradNorm)
        routerGradNorm = c.figure(.routerGradNorm)
        tokensPerSecond = c.figure(.tokensPerSecond)
        cvMean = c.figure(.cvMean)
        tokens = c.lenient(Int.self, .tokens)
        layers = c.lenient([Lenient<Layer>].self, .layers)?.compactMap(\.value) ?? []
    }

    /// Writes figures rounded, absent ones left out.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeFigureIfPresent(loss, forKey: .loss)
        try c.encodeFigureIfPresent(lr, forKey: .lr)
        try c.encodeFigureIfPresent(routerLR, forKey: .routerLR)
        try c.encodeFigureIfPresent(gradNorm, forKey: .gradNorm)
        try c.encodeFigureIfPresent(routerGradNorm, forKey: .routerGradNorm)
        try c.encodeFigureIfPresent(tokensPerSecond, forKey: .tokensPerSecond)
        try c.encodeFigureIfPresent(cvMean, forKey: .cvMean)
        try c.encodeIfPresent(tokens, forKey: .tokens)
        try c.encode(layers, forKey: .layers)
    }
}

/// `eval`: a validation pass: bits per byte and the held-out CV of the same validation tokens (top-1,
/// top-k and gate-weighted load, the paper's CVmean).
public struct EvalEvent: Sendable, Equatable, Codable {
    /// One MoE layer's held-out figures.
    public struct Layer: Sendable, Equatable, Codable {
        /// Block index.
        public var layer: Int
        /// CV of the top-1, top-k and gate-weighted load.
        public var cvTop1: Double?, cvTopK: Double?, cvGate: Double?
        /// MaxVio of the top-1, top-k and gate-weighted load.
        public var maxVioTop1: Double?, maxVioTopK: Double?, maxVioGate: Double?
        /// The top-k and gate-weighted loads [E].
        public var loadTopK: [Double]?, loadGate: [Double]?
        /// p50, p90, p99 and max of the top-k load over the experts (absent in runs before it was logged).
        public var loadQuantiles: ReportedQuantiles?

        /// A layer record.
        public init(layer: Int, cvTop1: Double?, cvTopK: Double?, cvGate: Double?, maxVioTop1: Double? = nil,
                    maxVioTopK: Double? = nil, maxVioGate: Double? = nil, loadTopK: [Double]?, loadGate: [Double]?,
                    loadQuantiles: ReportedQuantiles? = nil) {
            self.layer = layer
            self.cvTop1 = cvTop1
            self.cvTopK = cvTopK
            self.cvGate = cvGate
            self.maxVioTop1 = maxVioTop1
            self.maxVioTopK = maxVioTopK
            self.maxVioGate = maxVioGate
            self.loadTopK = loadTopK
            self.loadGate = loadGate
            self.loadQuantiles = loadQuantiles
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case layer, cvTop1 = "cv_top1", cvTopK = "cv_topk", cvGate = "cv_gate", loadTopK = "load_topk", loadGate = "load_gate"
            case maxVioTop1 = "max_vio_top1", maxVioTopK = "max_vio_topk", maxVioGate = "max_vio_gate"
            case loadQuantiles = "load_quantiles"
        }

        /// Reads leniently; a layer without `layer` is not a layer.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            layer = try c.decode(Int.self, forKey: .layer)
            cvTop1 = c.figure(.cvTop1)
            cvTopK = c.figure(.cvTopK)
            cvGate = c.figure(.cvGate)
            maxVioTop1 = c.figure(.maxVioTop1)
            maxVioTopK = c.figure(.maxVioTopK)
            maxVioGate = c.figure(.maxVioGate)
            loadTopK = c.figures(.loadTopK)
            loadGate = c.figures(.loadGate)
            loadQuantiles = c.lenient(ReportedQuantiles.self, .loadQuantiles)
        }

        /// Writes figures rounded, absent ones left out.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(layer, forKey: .layer)
            try c.encodeFigureIfPresent(cvTop1, forKey: .cvTop1)
            try c.encodeFigureIfPresent(cvTopK, forKey: .cvTopK)
            try c.encodeFigureIfPresent(cvGate, forKey: .cvGate)
            try c.encodeFigureIfPresent(maxVioTop1, forKey: .maxVioTop1)
            try c.encodeFigureIfPresent(maxVioTopK, forKey: .maxVioTopK)
            try c.encodeFigureIfPresent(maxVioGate, forKey: .maxVioGate)
            if let loadTopK { try c.encodeFigures(loadTopK, forKey: .loadTopK) }
            if let loadGate { try c.encodeFigures(loadGate, forKey: .loadGate) }
            try c.encodeIfPresent(loadQuantiles, forKey: .loadQuantiles)
        }
    }

    /// Validation bits per byte over the domains the model trained on.
    public var bitsPerByte: Double?
    /// Bits per byte of each domain, by name.
    public var domains: [String: Double]
    /// Bits per byte of the held-out domains (`--holdout-domains`).
    public var heldoutDomainsBitsPerByte: Double?
    /// Validation tokens the held-out CV covers.
    public var heldoutTokens: Int?
    /// Held-out CV of the top-1, top-k and gate-weighted load, averaged over MoE layers.
    public var heldoutTop1: Double?, heldoutTopK: Double?, heldoutGate: Double?
    /// Held-out MaxVio of the top-1, top-k and gate-weighted load, averaged over MoE layers.
    public var heldoutMaxVioTop1: Double?, heldoutMaxVioTopK: Double?, heldoutMaxVioGate: Double?
    /// Per MoE layer.
    public var layers: [Layer]

    /// An eval record.
    public init(bitsPerByte: Double?, domains: [String: Double] = [:], heldoutDomainsBitsPerByte: Double? = nil,
                heldoutTokens: Int? = nil, heldoutTop1: Double? = nil, heldoutTopK: Double? = nil, heldoutGate: Double? = nil,
                layers: [Layer] = []) {
        self.bitsPerByte = bitsPerByte
        self.domains = domains
        self.heldoutDomainsBitsPerByte = heldoutDomainsBitsPerByte
        self.heldoutTokens = heldoutTokens
        self.heldoutTop1 = heldoutTop1
        self.heldoutTopK = heldoutTopK
        self.heldoutGate = heldoutGate
        self.layers = layers
    }

    /// Whether the record carries any held-out CV.
    public var hasHeldoutCV: Bool { heldoutTopK != nil || heldoutTop1 != nil || heldoutGate != nil }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case bitsPerByte = "val_bpb", domains, heldoutDomainsBitsPerByte = "heldout_domains_bpb", heldoutTokens = "heldout_tokens"
        case heldoutTop1 = "heldout_cv_mean_top1", heldoutTopK = "heldout_cv_mean_topk", heldoutGate = "heldout_cv_mean_gate", layers
        case heldoutMaxVioTop1 = "heldout_max_vio_mean_top1", heldoutMaxVioTopK = "heldout_max_vio_mean_topk"
        case heldoutMaxVioGate = "heldout_max_vio_mean_gate"
    }

    /// Reads leniently.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        bitsPerByte = c.figure(.bitsPerByte)
        domains = c.lenient([String: Double?].self, .domains)?.mapValues { $0 ?? .nan } ?? [:]
        heldoutDomainsBitsPerByte = c.figure(.heldoutDomainsBitsPerByte)
        heldoutTokens = c.lenient(Int.self, .heldoutTokens)
        heldoutTop1 = c.figure(.heldoutTop1)
        heldoutTopK = c.figure(.heldoutTopK)
        heldoutGate = c.figure(.heldoutGate)
        heldoutMaxVioTop1 = c.figure(.heldoutMaxVioTop1)
        heldoutMaxVioTopK = c.figure(.heldoutMaxVioTopK)
        heldoutMaxVioGate = c.figure(.heldoutMaxVioGate)
        layers = c.lenient([Lenient<Layer>].self, .layers)?.compactMap(\.value) ?? []
    }

    /// Writes figures rounded, absent ones left out.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeFigureIfPresent(bitsPerByte, forKey: .bitsPerByte)
        var perDomain = c.nestedContainer(keyedBy: NameKey.self, forKey: .domains)
        for (name, bits) in domains { try perDomain.encodeFigure(bits, forKey: NameKey(name)) }
        try c.encodeFigureIfPresent(heldoutDomainsBitsPerByte, forKey: .heldoutDomainsBitsPerByte)
        try c.encodeIfPresent(heldoutTokens, forKey: .heldoutTokens)
        try c.encodeFigureIfPresent(heldoutTop1, forKey: .heldoutTop1)
        try c.encodeFigureIfPresent(heldoutTopK, forKey: .heldoutTopK)
        try c.encodeFigureIfPresent(heldoutGate, forKey: .heldoutGate)
        try c.encodeFigureIfPresent(heldoutMaxVioTop1, forKey: .heldoutMaxVioTop1)
        try c.encodeFigureIfPresent(heldoutMaxVioTopK, forKey: .heldoutMaxVioTopK)
        try c.encodeFigureIfPresent(heldoutMaxVioGate, forKey: .heldoutMaxVioGate)
        if !layers.isEmpty { try c.encode(layers, forKey: .layers) }
    }
}

/// `reactivation`: a component of an IDA mixture died, was intervened on or revived.
public struct ReactivationEvent: Sendable, Equatable, Codable {
    /// `died`, `reset`, `pulled` or `revived` (docs/format.md).
    public var event: String
    /// Block index, component index and the expert owning it.
    public var layer: Int, component: Int, expert: Int?
    /// Its prior and usage EMA before the event.
    public var prior: Double?, usage: Double?

    /// A reactivation record.
    public init(event: String, layer: Int, component: Int, expert: Int?, prior: Double?, usage: Double?) {
        self.event = event
        self.layer = layer
        self.component = component
        self.expert = expert
        self.prior = prior
        self.usage = usage
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case event, layer, component, expert, prior, usage }

    /// Reads leniently; `event`, `layer` and `component` are required.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        event = try c.decode(String.self, forKey: .event)
        layer = try c.decode(Int.self, forKey: .layer)
        component = try c.decode(Int.self, forKey: .component)
        expert = c.lenient(Int.self, .expert)
        prior = c.figure(.prior)
        usage = c.figure(.usage)
    }

    /// Writes figures rounded, absent ones left out.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(event, forKey: .event)
        try c.encode(layer, forKey: .layer)
        try c.encode(component, forKey: .component)
        try c.encodeIfPresent(expert, forKey: .expert)
        try c.encodeFigureIfPresent(prior, forKey: .prior)
        try c.encodeFigureIfPresent(usage, forKey: .usage)
    }
}

/// `snapshot`: a snapshot was published (paths relative to the run directory).
public struct SnapshotEvent: Sendable, Equatable, Codable {
    /// The model (or routers) file and the probe file.
    public var path: String?, probe: String?

    /// A snapshot record.
    public init(path: String?, probe: String?) {
        self.path = path
        self.probe = probe
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case path, probe }

    /// Reads leniently.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = c.lenient(String.self, .path)
        probe = c.lenient(String.self, .probe)
    }
}

/// `resume`: training continued from the snapshot of step `fromStep`; later events replace those of
/// steps after it.
public struct ResumeEvent: Sendable, Equatable, Codable {
    /// The step resumed from.
    public var fromStep: Int?
    /// The planned step count from here on.
    public var steps: Int?
    /// The plan before, when the resume changed it.
    public var plannedStepsBefore: Int?
    /// The thread count, when the resume changed it.
    public var threads: Int?

    /// A resume record.
    public init(fromStep: Int?, steps: Int?, plannedStepsBefore: Int? = nil, threads: Int? = nil) {
        self.fromStep = fromStep
        self.steps = steps
        self.plannedStepsBefore = plannedStepsBefore
        self.threads = threads
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case fromStep = "from_step", steps, plannedStepsBefore = "planned_steps_before", threads }

    /// Reads leniently.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        fromStep = c.lenient(Int.self, .fromStep)
        steps = c.lenient(Int.self, .steps)
        plannedStepsBefore = c.lenient(Int.self, .plannedStepsBefore)
        threads = c.lenient(Int.self, .threads)
    }
}

/// A value decoded when it can be, nil when it cannot: lets one odd element of a list be dropped
/// instead of the whole list.
struct Lenient<T: Decodable>: Decodable {
    let value: T?

    init(from decoder: Decoder) throws {
        value = try? T(from: decoder)
    }
}
