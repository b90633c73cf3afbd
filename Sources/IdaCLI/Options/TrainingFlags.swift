import ArgumentParser
import IdaNumerics
import IdaRouting
import IdaTraining

/// The training flags shared by `train` and `demo`. Every flag is optional: one not given keeps the
/// command's preset (`TrainingOptions()` for train, shown in --help from that same source) or the
/// value of the run being resumed.
struct TrainingFlags: ParsableArguments {
    private static let d = TrainingOptions()

    @Option(parsing: .upToNextOption, help: "Corpus files or folders, each file a domain (default: \(d.corpus.joined(separator: ", "))).")
    var corpus: [String] = []
    @Option(name: .customLong("holdout-domains"), help: "Comma-separated domains (corpus file names) kept out of training: only validation and probe text (default: none).")
    var holdoutDomains: String?
    @Option(help: "Optimizer steps \(defaultText(d.steps)).") var steps: Int?
    @Option(help: "Sequences per batch \(defaultText(d.batch)).") var batch: Int?
    @Option(help: "Peak learning rate \(defaultText(d.learningRate)).") var lr: Float?
    @Option(name: .customLong("router-lr"), help: "Peak learning rate of router parameters \(defaultText(d.routerLearningRate)).")
    var routerLR: Float?
    @Option(help: "Warm-up steps \(defaultText(d.warmup)).") var warmup: Int?
    @Option(help: "Random seed \(defaultText(d.seed)).") var seed: UInt64?
    @Option(help: "Worker threads, 0 for all cores \(defaultText(d.threads)).") var threads: Int?
    @Option(name: .customLong("snapshot-every"), help: "Steps between snapshots \(defaultText(d.snapshotEvery)).")
    var snapshotEvery: Int?
    @Option(name: .customLong("eval-every"), help: "Steps between validation passes \(defaultText(d.evalEvery)).")
    var evalEvery: Int?
    @Option(name: .customLong("aux-loss"), help: "Softmax router auxiliary balance loss weight \(defaultText(d.auxLoss)).")
    var auxLoss: Double?
    @Option(name: .customLong("z-loss"), help: "Softmax router z-loss weight \(defaultText(d.zLoss)).") var zLoss: Double?
    @Option(name: .customLong("bias-rate"), help: "Sigmoid-bias router: selection-bias step toward balance per training step \(defaultText(d.biasRate ?? 0)).")
    var biasRate: Double?
    @Option(name: .customLong("react-every"), help: "Steps between dead-component checks \(defaultText(d.reactEvery)).")
    var reactEvery: Int?
    @Option(name: .customLong("react-steps"), help: "Steps a dead component is pulled back \(defaultText(d.reactSteps)).")
    var reactSteps: Int?
    @Option(name: .customLong("lambda-rec"), help: "Reconstruction loss weight \(defaultText(d.reconstructionWeight)).")
    var lambdaRec: Double?
    @Option(name: .customLong("lambda-react"), help: "Reactivation loss weight \(defaultText(d.reactivationWeight)).")
    var lambdaReact: Double?
    @Flag(name: .customLong("nll-to-encoder"), help: "Let the mixture's NLL train the IDA encoder too (off by default; docs/decisions.md).")
    var nllToEncoder = false
    @Option(name: .customLong("mixture-init"), help: "Where the IDA mixture's means start: random latents of a first batch or k-means++ seeds of them \(defaultText(d.mixtureInit?.rawValue ?? "random")).")
    var mixtureInit: MixtureInit?
    @Option(name: .customLong("router-lr-schedule"), help: "Router learning rate after warm-up: the backbone's cosine decay or constant \(defaultText(d.routerSchedule?.rawValue ?? "cosine")).")
    var routerSchedule: TrainingOptions.RouterSchedule?
    @Option(help: "Where IDA reactivation sends a dead component: a batch's worst outliers or a pool of the worst-explained tenth of the last four batches \(defaultText(d.reseed?.rawValue ?? "outliers")).")
    var reseed: Reseed?

    /// `base` with every given flag applied.
    func applied(to base: TrainingOptions) -> TrainingOptions {
        var o = base
        if !corpus.isEmpty { o.corpus = corpus }
        if let holdoutDomains {
            // Empty names are kept, so validation refuses "" or "a,,b" instead of training on everything.
            o.holdoutDomains = holdoutDomains.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
        }
        if let steps { o.steps = steps }
        if let batch { o.batch = batch }
        if let lr { o.learningRate = lr }
        if let routerLR { o.routerLearningRate = routerLR }
        if let warmup { o.warmup = warmup }
        if let seed { o.seed = seed }
        if let threads { o.threads = threads }
        if let snapshotEvery { o.snapshotEvery = snapshotEvery }
        if let evalEvery { o.evalEvery = evalEvery }
        if let auxLoss { o.auxLoss = auxLoss }
        if let zLoss { o.zLoss = zLoss }
        if let biasRate { o.biasRate = biasRate }
        if let reactEvery { o.reactEvery = reactEvery }
        if let reactSteps { o.reactSteps = reactSteps }
        if let lambdaRec { o.reconstructionWeight = lambdaRec }
        if let lambdaReact { o.reactivationWeight = lambdaReact }
        if nllToEncoder { o.nllToEncoder = true }
        if let mixtureInit { o.mixtureInit = mixtureInit }
        if let routerSchedule { o.routerSchedule = routerSchedule }
        if let reseed { o.reseed = reseed }
        return o
    }

    /// The given flags as command-line arguments (to start `idamoe train` with them).
    var arguments: [String] {
        var out: [String] = []
        func add(_ flag: String, _ value: CustomStringConvertible?) { if let value { out += [flag, value.description] } }
        if !corpus.isEmpty { out += ["--corpus"] + corpus }
        if let holdoutDomains { out += ["--holdout-domains", holdoutDomains] }
        add("--steps", steps)
        add("--batch", batch)
        add("--lr", lr)
        add("--router-lr", routerLR)
        add("--warmup", warmup)
        add("--seed", seed)
        add("--threads", threads)
        add("--snapshot-every", snapshotEvery)
        add("--eval-every", evalEvery)
        add("--aux-loss", auxLoss)
        add("--z-loss", zLoss)
        add("--bias-rate", biasRate)
        add("--react-every", reactEvery)
        add("--react-steps", reactSteps)
        add("--lambda-rec", lambdaRec)
        add("--lambda-react", lambdaReact)
        if nllToEncoder { out.append("--nll-to-encoder") }
        add("--mixture-init", mixtureInit?.rawValue)
        add("--router-lr-schedule", routerSchedule?.rawValue)
        add("--reseed", reseed?.rawValue)
        return out
    }
}

/// The flag of each `ModelConfig` and `TrainingOptions` field (run.json's keys), so library errors,
/// which name fields, reach the user naming the flag to change. Flag names live only in IdaCLI.
enum SettingFlags {
    static let flags: [String: String] = [
        "router": "--router", "context": "--context", "width": "--width", "heads": "--heads", "blocks": "--blocks",
        "experts": "--experts", "topK": "--top-k", "expertHidden": "--expert-hidden", "expertKind": "--expert",
        "moeEvery": "--moe-every", "componentsPerExpert": "--components", "latentDim": "--latent",
        "routerHidden": "--router-hidden", "routerActivation": "--router-activation", "expertScore": "--expert-score", "gateTemperature": "--gate-temperature",
        "inputNorm": "--input-norm", "latentNorm": "--latent-norm", "logVarMin": "--log-var-min", "logVarMax": "--log-var-max",
        "steps": "--steps", "batch": "--batch", "learningRate": "--lr", "routerLearningRate": "--router-lr",
        "warmup": "--warmup", "seed": "--seed", "threads": "--threads", "snapshotEvery": "--snapshot-every",
        "evalEvery": "--eval-every", "auxLoss": "--aux-loss", "zLoss": "--z-loss", "biasRate": "--bias-rate", "reactivation": "--reactivation",
        "reactEvery": "--react-every", "reactSteps": "--react-steps", "reconstructionWeight": "--lambda-rec",
        "reactivationWeight": "--lambda-react", "corpus": "--corpus", "holdoutDomains": "--holdout-domains", "nllToEncoder": "--nll-to-encoder",
        "mixtureInit": "--mixture-init", "routerSchedule": "--router-lr-schedule", "reseed": "--reseed",
    ]

    /// Runs `body`, turning a library error about a field into one about its flag.
    static func naming<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let SettingError.invalidSetting(key, problem) {
            let name = flags[key] ?? "\(key) (a setting without a flag)"
            throw ValidationError("\(name) \(problem)")
        }
    }
}
