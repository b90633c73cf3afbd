import IdaNumerics

/// The shape of the MoE transformer and its routers, with the defaults every command uses (the CLI's
/// flags take their defaults from here); stored as `model` in run.json (docs/format.md).
public struct ModelConfig: Sendable, Equatable, Codable {
    /// Vocabulary V (bytes).
    public var vocab = 256
    /// Model width D.
    public var width = 128
    /// Attention heads.
    public var heads = 4
    /// Transformer blocks.
    public var blocks = 4
    /// Context length T.
    public var context = 128
    /// Experts E per MoE layer.
    public var experts = 8
    /// Experts per token k.
    public var topK = 2
    /// Hidden width F of each expert.
    public var expertHidden = 256
    /// Expert MLP kind.
    public var expertKind = ExpertMLP.Kind.gelu
    /// A MoE layer in every `moeEvery`-th block (1: every block; 2: blocks 1, 3, ...).
    public var moeEvery = 1
    /// Router kind.
    public var router = RouterKind.ida
    /// Components per expert M (IDA).
    public var componentsPerExpert = 16
    /// Latent width P (IDA).
    public var latentDim = 32
    /// Hidden widths of the router's encoder (IDA), e.g. [128] for D -> 128 -> P.
    public var routerHidden = [128]
    /// Activation inside the router autoencoder.
    public var routerActivation = Activation.gelu
    /// Expert score from component posteriors.
    public var expertScore = ExpertScore.max
    /// Router input normalisation.
    public var inputNorm = InputNorm.rms
    /// IDA latent normalisation; absent in runs written before it existed, which trained without it
    /// (nil reads as none).
    public var latentNorm: InputNorm? = .rms
    /// Log-variance clamp.
    public var logVarMin: Float = -6
    /// Log-variance clamp.
    public var logVarMax: Float = 6
    /// Softmax router gate bias.
    public var gateBias = false
    /// IDA gate temperature T (`idamoe.gate_temperature`): 4 for new runs, which closes most of the
    /// quality gap (docs/results.md, docs/decisions.md "Defaults"); absent in runs written before it
    /// was a setting (1).
    public var gateTemperature: Double? = GateTemperature.newRuns
    /// How the IDA mixture's prior mass is shared among experts (`idamoe.prior_mass`); absent in runs
    /// written before it was a setting, which trained with a global prior (nil reads as global).
    public var priorMass: PriorMass? = .global

    /// The default configuration (sized for a 2-core machine).
    public init() {}

    /// Block indices that hold a MoE layer.
    public var moeLayers: [Int] { (0..<blocks).filter { $0 % moeEvery == moeEvery - 1 } }

    /// The router configuration these settings describe.
    public var routerConfig: RouterConfig {
        RouterConfig(experts: experts, componentsPerExpert: componentsPerExpert, latentDim: latentDim, topK: topK,
                     activation: routerActivation, expertScore: expertScore, inputNorm: inputNorm,
                     latentNorm: latentNorm ?? .none,
                     logVarMin: logVarMin, logVarMax: logVarMax, gateTemperature: gateTemperature ?? GateTemperature.absent,
                     priorMass: priorMass ?? .global)
    }

    /// Checks that a model of this shape can read bytes (the trainer's corpus, the inspector's live
    /// text): every byte value must be a token id.
    public func validateByteLevel() throws {
        guard vocab >= 256 else {
            throw SettingError.invalidSetting(key: "vocab", problem: "must be at least 256 for a byte-level model (every byte is a token)")
        }
    }

    /// Checks that the values fit together; the error names the offending field (`SettingError.invalidSetting`).
    public func validate() throws {
        func check(_ ok: Bool, _ key: String, _ problem: String) throws {
            if !ok { throw SettingError.invalidSetting(key: key, problem: problem) }
        }
        for setting in Self.settings {
            if let problem = setting.problem(in: self) { throw SettingError.invalidSetting(key: setting.key, problem: problem) }
        }
        // Checks across settings.
        try check(width % heads == 0, "width", "must be a positive multiple of heads (\(heads))")
        try check(heads <= width, "heads", "must be 1...\(width) (the width)")
        try check(topK <= experts, "topK", "must be 1...\(min(experts, SizeLimits.topK)) (at most the experts)")
        try check(moeEvery <= blocks, "moeEvery", "must be 1...\(blocks) (the blocks)")
        try check((SizeLimits.product(experts, componentsPerExpert) ?? .max) <= SizeLimits.components, "componentsPerExpert",
                  "gives E x M = \(experts) x \(componentsPerExpert) components, above \(SizeLimits.components)")
        try check(logVarMin < logVarMax, "logVarMin", "must be below the upper clamp (\(logVarMax))")
    }
}
