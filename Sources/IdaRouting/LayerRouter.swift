import IdaNumerics

/// The router of one MoE layer, of either kind.
public enum LayerRouter: Sendable, Equatable {
    /// An IDA router.
    case ida(IDARouter)
    /// A softmax router.
    case softmax(SoftmaxRouter)
    /// Recorded decisions: routed from the probe's records, not from hidden states.
    case recorded(RecordedRouter)

    /// The router kind of the contract (`idamoe.router`) this router is.
    public var kind: RouterKind {
        switch self {
        case .ida: return .ida
        case let .softmax(r): return r.scoring == .sigmoid ? .sigmoidBias : .softmax
        case .recorded: return .recorded
        }
    }

    /// Hidden width D the router reads (0 for recorded decisions, which read no hidden states).
    public var hiddenDim: Int {
        switch self {
        case let .ida(r): return r.hiddenDim
        case let .softmax(r): return r.hiddenDim
        case .recorded: return 0
        }
    }

    /// Experts E.
    public var experts: Int {
        switch self {
        case let .ida(r): return r.config.experts
        case let .softmax(r): return r.experts
        case let .recorded(r): return r.experts
        }
    }

    /// Components K (0 for softmax routers).
    public var components: Int {
        if case let .ida(r) = self { return r.config.components }
        return 0
    }

    /// The mixture's per-component quantities (IDA only), to route many blocks without recomputing them.
    public func mixture() -> DiagonalGMM.JointTerms? {
        if case let .ida(r) = self { return r.gmm.jointTerms() }
        return nil
    }

    /// How the prior mass is shared (global for routers without a mixture).
    public var priorMass: PriorMass {
        if case let .ida(r) = self { return r.config.priorMass }
        return .global
    }

    /// Priors pi [K] (IDA only).
    public var priors: [Double]? {
        if case let .ida(r) = self { return r.gmm.priors }
        return nil
    }

    /// Experts per token k.
    public var topK: Int {
        switch self {
        case let .ida(r): return r.config.topK
        case let .softmax(r): return r.topK
        case let .recorded(r): return r.topK
        }
    }

    /// Routes h [N, D]; with `posteriors` false an IDA router leaves its N x K posteriors out, and
    /// with `rankComponents` > 0 it ranks each token's most probable components instead.
    /// `mixture` is `mixture()` of this router, computed once for many calls.
    /// Consuming h lets an RMS input norm scale it in place instead of copying it.
    public func route(_ h: consuming Matrix, keepLatents: Bool = false, reconstruct: Bool = false,
                      posteriors: Bool = true, rankComponents: Int = 0,
                      mixture: DiagonalGMM.JointTerms? = nil) -> RoutingResult {
        switch self {
        case let .ida(r):
            return r.route(consume h, keepLatents: keepLatents, reconstruct: reconstruct, posteriors: posteriors,
                           rankComponents: rankComponents, mixture: mixture)
        case let .softmax(r): return r.route(h)
        case .recorded:
            // Recorded decisions are read from the probe's records (ProbeRouting.routeTile), never
            // routed from hidden states: reaching here is a programming error.
            preconditionFailure("recorded decisions route from the probe's records, not from hidden states")
        }
    }

    /// The same router choosing `k` experts per token.
    public func withTopK(_ k: Int) throws -> LayerRouter {
        guard k >= 1, k <= experts else { throw RoutingError.invalidOption("--top-k must be 1...\(experts), got \(k)") }
        switch self {
        case var .ida(r):
            r.config.topK = k
            return .ida(r)
        case var .softmax(r):
            if let problem = r.gateOptions.problem(experts: experts, topK: k) {
                throw RoutingError.invalidOption("--top-k \(k): \(problem.message)")
            }
            r.topK = k
            return .softmax(r)
        case let .recorded(r):
            guard k == r.topK else {
                throw RoutingError.invalidOption("--top-k \(k): recorded decisions chose \(r.topK) experts per token; they cannot be re-chosen")
            }
            return self
        }
    }
}
