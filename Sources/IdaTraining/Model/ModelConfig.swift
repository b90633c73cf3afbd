import IdaNumerics
import IdaRouting

/// The shape of the MoE transformer and its routers; every field is a `idamoe train` flag.
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
    /// Expert MLP kind: "gelu" or "swiglu".
    public var expertKind = "gelu"
    /// A MoE layer in every `moeEvery`-th block (1: every block; 2: blocks 1, 3, ...).
    public var moeEvery = 1
    /// Router kind: "ida" or "softmax".
    public var router = "ida"
    /// Components per expert M (IDA).
    public var componentsPerExpert = 16
    /// Latent width P (IDA).
    public var latentDim = 32
    /// Hidden widths of the router's encoder (IDA), e.g. [128] for D -> 128 -> P.
    public var routerHidden = [128]
    /// Activation inside the router autoencoder.
    public var routerActivation = "gelu"
    /// Expert score: "max" or "sum".
    public var expertScore = "max"
    /// Router input normalisation: "none" or "rms".
    public var inputNorm = "rms"
    /// IDA latent normalisation (none | rms); absent in runs written before it existed, which
    /// trained without it (nil reads as none).
    public var latentNorm: String? = "rms"
    /// Log-variance clamp.
    public var logVarMin: Float = -6
    /// Log-variance clamp.
    public var logVarMax: Float = 6
    /// Softmax router gate bias.
    public var gateBias = false

    /// The default configuration (sized for a 2-core machine).
    public init() {}

    /// Block indices that hold a MoE layer.
    public var moeLayers: [Int] { (0..<blocks).filter { $0 % moeEvery == moeEvery - 1 } }

    /// The router configuration these settings describe.
    public var routerConfig: RouterConfig {
        RouterConfig(experts: experts, componentsPerExpert: componentsPerExpert, latentDim: latentDim, topK: topK,
                     activation: Activation(rawValue: routerActivation) ?? .gelu,
                     expertScore: ExpertScore(rawValue: expertScore) ?? .max,
                     inputNorm: InputNorm(rawValue: inputNorm) ?? .rms,
                     latentNorm: InputNorm(rawValue: latentNorm ?? "none") ?? .none,
                     logVarMin: logVarMin, logVarMax: logVarMax)
    }

    /// The router kind.
    public var routerKind: RouterKind { RouterKind(rawValue: router) ?? .ida }

    /// Checks that the values fit together; throws a one-line error naming the flag.
    public func validate() throws {
        func fail(_ message: String) throws { throw TrainingError.invalidOption(message) }
        if width < 1 || heads < 1 || width % heads != 0 { try fail("--width must be a positive multiple of --heads") }
        if blocks < 1 { try fail("--blocks must be at least 1") }
        if context < 2 { try fail("--context must be at least 2") }
        if experts < 1 || experts > 64 { try fail("--experts must be 1...64") }
        if topK < 1 || topK > experts { try fail("--top-k must be 1...\(experts)") }
        if expertHidden < 1 { try fail("--expert-hidden must be at least 1") }
        if !["gelu", "swiglu"].contains(expertKind) { try fail("--expert must be gelu or swiglu") }
        if moeEvery < 1 || moeEvery > blocks { try fail("--moe-every must be 1...\(blocks)") }
        if RouterKind(rawValue: router) == nil { try fail("--router must be ida or softmax") }
        if componentsPerExpert < 1 { try fail("--components must be at least 1") }
        if latentDim < 1 { try fail("--latent must be at least 1") }
        if routerHidden.contains(where: { $0 < 1 }) { try fail("--router-hidden widths must be positive") }
        if Activation(rawValue: routerActivation) == nil { try fail("--router-activation must be one of gelu, gelu_tanh, relu, silu, tanh") }
        if ExpertScore(rawValue: expertScore) == nil { try fail("--expert-score must be max or sum") }
        if InputNorm(rawValue: inputNorm) == nil { try fail("--input-norm must be none or rms") }
        if let latentNorm, InputNorm(rawValue: latentNorm) == nil { try fail("--latent-norm must be none or rms") }
        if !(logVarMin < logVarMax) { try fail("--log-var-min must be below --log-var-max") }
    }
}
