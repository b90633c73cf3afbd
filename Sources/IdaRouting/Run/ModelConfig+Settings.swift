import IdaNumerics

extension RouterKind: SettingValue {}
extension Activation: SettingValue {}
extension ExpertScore: SettingValue {}
extension PriorMass: SettingValue {}
extension InputNorm: SettingValue {}
extension ExpertMLP.Kind: SettingValue {}

extension ModelConfig {
    /// Every model setting, once: run.json key (`model`), flag, help, default (`ModelConfig()`), range
    /// (`ValueRange`, data the schema carries too).
    /// Checks across settings (heads dividing the width, top-k within the experts) are `validate()`'s.
    public static let settings: [AnySetting<ModelConfig>] = [
        AnySetting(Setting("router", flag: "router", "Router kind", \ModelConfig.router,
                           offered: RouterKind.allCases.filter(\.trainable).map(\.rawValue), check: { $0.trainable ? nil : "must be a router idamoe trains (ida, softmax or sigmoid-bias)" })),
        AnySetting(Setting("context", flag: "context", "Context length T", \ModelConfig.context, range: .integers(2...SizeLimits.context))),
        AnySetting(Setting("width", flag: "width", "Model width D", \ModelConfig.width, range: .integers(1...SizeLimits.width))),
        AnySetting(Setting("heads", flag: "heads", "Attention heads", \ModelConfig.heads, range: .integers(1...SizeLimits.width))),
        AnySetting(Setting("blocks", flag: "blocks", "Transformer blocks", \ModelConfig.blocks, range: .integers(1...SizeLimits.blocks))),
        AnySetting(Setting("experts", flag: "experts", "Experts per MoE layer", \ModelConfig.experts, range: .integers(1...SizeLimits.experts))),
        AnySetting(Setting("topK", flag: "top-k", "Experts per token", \ModelConfig.topK, range: .integers(1...SizeLimits.topK))),
        AnySetting(Setting("expertHidden", flag: "expert-hidden", "Hidden width of each expert", \ModelConfig.expertHidden,
                           range: .integers(1...SizeLimits.width))),
        AnySetting(Setting("expertKind", flag: "expert", "Expert MLP", \ModelConfig.expertKind)),
        AnySetting(Setting("moeEvery", flag: "moe-every", "A MoE layer in every N-th block", \ModelConfig.moeEvery,
                           range: .integers(1...SizeLimits.blocks))),
        AnySetting(Setting("componentsPerExpert", flag: "components", "Gaussian components per expert M, IDA",
                           \ModelConfig.componentsPerExpert, range: .integers(1...SizeLimits.componentsPerExpert))),
        AnySetting(Setting("latentDim", flag: "latent", "Latent width P, IDA", \ModelConfig.latentDim, range: .integers(1...SizeLimits.latentDim))),
        AnySetting(Setting("routerHidden", flag: "router-hidden", "Router encoder hidden widths, comma-separated",
                           \ModelConfig.routerHidden, range: .integers(1...SizeLimits.width, subject: "widths"), check: { widths in
                               widths.count > SizeLimits.encoderLayers ? "may list at most \(SizeLimits.encoderLayers) widths" : nil
                           })),
        AnySetting(Setting("routerActivation", flag: "router-activation", "Activation inside the IDA autoencoder",
                           \ModelConfig.routerActivation)),
        AnySetting(Setting("expertScore", flag: "expert-score", "IDA expert score", \ModelConfig.expertScore)),
        AnySetting(Setting("inputNorm", flag: "input-norm", "IDA router input normalisation", \ModelConfig.inputNorm)),
        AnySetting(Setting("latentNorm", flag: "latent-norm", "IDA latent normalisation before the mixture", \ModelConfig.latentNorm)),
        AnySetting(Setting("logVarMin", flag: "log-var-min", "IDA log-variance clamp, lower end", \ModelConfig.logVarMin,
                           range: .finite)),
        AnySetting(Setting("logVarMax", flag: "log-var-max", "IDA log-variance clamp, upper end", \ModelConfig.logVarMax,
                           range: .finite)),
        AnySetting(Setting("gateTemperature", flag: "gate-temperature",
                           "IDA gate temperature T: top-k gate weights are scores to the power 1/T, renormalised",
                           \ModelConfig.gateTemperature, range: GateTemperature.range).absent(means: GateTemperature.absent)),
        AnySetting(Setting("priorMass", flag: "prior-mass",
                           "IDA prior mass: global (one softmax over all components) or per-expert (each expert holds 1/E)",
                           \ModelConfig.priorMass)),
        AnySetting(Setting("vocab", flag: nil, "Vocabulary V", \ModelConfig.vocab, range: .integers(1...SizeLimits.vocab))),
        AnySetting(Setting("gateBias", flag: nil, "Softmax router gate bias", \ModelConfig.gateBias)),
    ]
}
