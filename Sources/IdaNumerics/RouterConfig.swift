/// How an IDA router turns component posteriors into one score per expert (`idamoe.expert_score`).
public enum ExpertScore: String, Sendable, CaseIterable {
    /// g_e = max of the expert's component posteriors (the default).
    case max
    /// g_e = sum of the expert's component posteriors.
    case sum
}

/// How the mixture's prior mass is shared among the experts (`idamoe.prior_mass`).
public enum PriorMass: String, Sendable, CaseIterable {
    /// pi = softmax(a) over all K components: the NLL fit may give an expert any share of the mass.
    case global
    /// pi_k = softmax of a over expert(k)'s M components, times 1/E: every expert holds exactly 1/E
    /// of the prior mass, whatever the fit (docs/decisions.md, "Expert-level prior mass").
    case perExpert = "per-expert"

    /// Contiguous groups of components that each hold an equal share of the mass: 1, or E.
    public func groups(experts: Int) -> Int { self == .global ? 1 : experts }
}

/// Normalisation of the router input before the encoder (`idamoe.input_norm`).
public enum InputNorm: String, Sendable, CaseIterable {
    /// x = h.
    case none
    /// x = h / sqrt(mean(h^2) + 1e-6).
    case rms
}

/// The shape and behaviour of one IDA router; mirrors the checkpoint metadata.
public struct RouterConfig: Sendable, Equatable {
    /// Experts E.
    public var experts: Int
    /// Gaussian components per expert M; K = E * M.
    public var componentsPerExpert: Int
    /// Latent width P.
    public var latentDim: Int
    /// Experts each token is sent to.
    public var topK: Int
    /// Nonlinearity inside the autoencoder.
    public var activation: Activation
    /// Expert score from component posteriors.
    public var expertScore: ExpertScore
    /// Input normalisation.
    public var inputNorm: InputNorm
    /// Normalisation of the encoder output before the mixture and the decoder (`idamoe.latent_norm`):
    /// with rms every latent has RMS 1, so the autoencoder cannot move the latents away from the
    /// mixture by growing their scale (docs/decisions.md).
    public var latentNorm: InputNorm
    /// Lower clamp for log-variances.
    public var logVarMin: Float
    /// Upper clamp for log-variances.
    public var logVarMax: Float
    /// Gate temperature T (`idamoe.gate_temperature`, default 1): the top-k experts' gate weights are
    /// their scores to the power 1/T, renormalised. A mixture's posteriors are nearly one-hot, so
    /// with T 1 the second expert gets almost no weight; T > 1 shares it (docs/decisions.md).
    public var gateTemperature: Double
    /// How the prior mass is shared among experts (`idamoe.prior_mass`; absent: global).
    public var priorMass: PriorMass

    /// A configuration; defaults follow the paper's setting where it gives one (docs/decisions.md).
    public init(experts: Int = 8, componentsPerExpert: Int = 16, latentDim: Int = 32, topK: Int = 2,
                activation: Activation = .gelu, expertScore: ExpertScore = .max, inputNorm: InputNorm = .rms,
                latentNorm: InputNorm = .none, logVarMin: Float = -6, logVarMax: Float = 6,
                gateTemperature: Double = GateTemperature.absent, priorMass: PriorMass = .global) {
        self.gateTemperature = gateTemperature
        self.priorMass = priorMass
        self.experts = experts
        self.componentsPerExpert = componentsPerExpert
        self.latentDim = latentDim
        self.topK = topK
        self.activation = activation
        self.expertScore = expertScore
        self.inputNorm = inputNorm
        self.latentNorm = latentNorm
        self.logVarMin = logVarMin
        self.logVarMax = logVarMax
    }

    /// Total components K = E * M.
    public var components: Int { experts * componentsPerExpert }

    /// The mixture's prior groups G (`DiagonalGMM.priorGroups`): 1 for a global prior, E per expert.
    public var priorGroups: Int { priorMass.groups(experts: experts) }

    /// The expert that owns component k.
    @inlinable
    public func expert(ofComponent k: Int) -> Int { k / componentsPerExpert }
}
