import ArgumentParser
import IdaFormats
import IdaNumerics
import IdaRouting
import IdaTraining

/// The model's flags, shared by `train`, `demo` and `bench train`. Every flag is optional: a flag not
/// given keeps the value of `ModelConfig()` (shown in --help from that same source) or of the run
/// being resumed.
struct ModelOptions: ParsableArguments {
    private static let d = ModelConfig()

    @Option(help: "Router kind \(defaultText(d.router)).") var router: RouterKind?
    @Option(help: "Context length T \(defaultText(d.context)).") var context: Int?
    @Option(help: "Model width D \(defaultText(d.width)).") var width: Int?
    @Option(help: "Attention heads \(defaultText(d.heads)).") var heads: Int?
    @Option(help: "Transformer blocks \(defaultText(d.blocks)).") var blocks: Int?
    @Option(help: "Experts per MoE layer \(defaultText(d.experts)).") var experts: Int?
    @Option(name: .customLong("top-k"), help: "Experts per token \(defaultText(d.topK)).") var topK: Int?
    @Option(name: .customLong("expert-hidden"), help: "Hidden width of each expert \(defaultText(d.expertHidden)).")
    var expertHidden: Int?
    @Option(help: "Expert MLP \(defaultText(d.expertKind)).") var expert: ExpertMLP.Kind?
    @Option(name: .customLong("moe-every"), help: "A MoE layer in every N-th block \(defaultText(d.moeEvery)).")
    var moeEvery: Int?
    @Option(help: "Gaussian components per expert M, IDA \(defaultText(d.componentsPerExpert)).") var components: Int?
    @Option(help: "Latent width P, IDA \(defaultText(d.latentDim)).") var latent: Int?
    @Option(name: .customLong("router-hidden"), help: "Router encoder hidden widths, comma-separated \(defaultText(d.routerHidden)).")
    var routerHidden: String?
    @Option(name: .customLong("router-activation"), help: "Activation inside the IDA autoencoder \(defaultText(d.routerActivation)).")
    var routerActivation: Activation?
    @Option(name: .customLong("expert-score"), help: "IDA expert score \(defaultText(d.expertScore)).")
    var expertScore: ExpertScore?
    @Option(name: .customLong("input-norm"), help: "IDA router input normalisation \(defaultText(d.inputNorm)).")
    var inputNorm: InputNorm?
    @Option(name: .customLong("latent-norm"), help: "IDA latent normalisation before the mixture \(defaultText(d.latentNorm ?? .none)).")
    var latentNorm: InputNorm?
    @Option(name: .customLong("log-var-min"), parsing: .unconditional, help: "IDA log-variance clamp, lower end \(defaultText(d.logVarMin)).")
    var logVarMin: Float?
    @Option(name: .customLong("log-var-max"), parsing: .unconditional, help: "IDA log-variance clamp, upper end \(defaultText(d.logVarMax)).")
    var logVarMax: Float?
    @Option(name: .customLong("gate-temperature"), help: "IDA gate temperature T: top-k gate weights are scores to the power 1/T, renormalised \(defaultText(d.gateTemperature ?? 1)).")
    var gateTemperature: Double?

    /// `base` with every given flag applied.
    func applied(to base: ModelConfig) throws -> ModelConfig {
        var c = base
        if let router { c.router = router }
        if let context { c.context = context }
        if let width { c.width = width }
        if let heads { c.heads = heads }
        if let blocks { c.blocks = blocks }
        if let experts { c.experts = experts }
        if let topK { c.topK = topK }
        if let expertHidden { c.expertHidden = expertHidden }
        if let expert { c.expertKind = expert }
        if let moeEvery { c.moeEvery = moeEvery }
        if let components { c.componentsPerExpert = components }
        if let latent { c.latentDim = latent }
        if let routerHidden {
            // Empty pieces ("16,,16", "16,") are refused, not dropped.
            let widths = routerHidden.split(separator: ",", omittingEmptySubsequences: false)
                .map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !widths.isEmpty, widths.allSatisfy({ $0 != nil }) else {
                throw ValidationError("--router-hidden must be comma-separated integers, got \(UntrustedText.quoted(routerHidden))")
            }
            c.routerHidden = widths.compactMap { $0 }
        }
        if let routerActivation { c.routerActivation = routerActivation }
        if let expertScore { c.expertScore = expertScore }
        if let inputNorm { c.inputNorm = inputNorm }
        if let latentNorm { c.latentNorm = latentNorm }
        if let logVarMin { c.logVarMin = logVarMin }
        if let logVarMax { c.logVarMax = logVarMax }
        if let gateTemperature { c.gateTemperature = gateTemperature }
        return c
    }

    /// The given flags as command-line arguments (to start `idamoe train` with them).
    var arguments: [String] {
        var out: [String] = []
        func add(_ flag: String, _ value: CustomStringConvertible?) { if let value { out += [flag, value.description] } }
        add("--router", router?.rawValue)
        add("--context", context)
        add("--width", width)
        add("--heads", heads)
        add("--blocks", blocks)
        add("--experts", experts)
        add("--top-k", topK)
        add("--expert-hidden", expertHidden)
        add("--expert", expert?.rawValue)
        add("--moe-every", moeEvery)
        add("--components", components)
        add("--latent", latent)
        add("--router-hidden", routerHidden)
        add("--router-activation", routerActivation?.rawValue)
        add("--expert-score", expertScore?.rawValue)
        add("--input-norm", inputNorm?.rawValue)
        add("--latent-norm", latentNorm?.rawValue)
        add("--log-var-min", logVarMin)
        add("--log-var-max", logVarMax)
        add("--gate-temperature", gateTemperature)
        return out
    }
}
