import IdaNumerics

extension ReactivationMode: SettingValue {}
extension MixtureInit: SettingValue {}
extension Reseed: SettingValue {}
extension TrainingOptions.RouterSchedule: SettingValue {}
extension TrainingOptions.ProbeRule: SettingValue, NamedChoice {}

extension TrainingOptions {
    /// Every training setting, once: run.json key (`training`), flag, help, default (`TrainingOptions()`),
    /// range.
    public static let settings: [AnySetting<TrainingOptions>] = [
        AnySetting(Setting("corpus", flag: "corpus", "Corpus files or folders, each file a domain", \TrainingOptions.corpus)),
        AnySetting(Setting("holdoutDomains", flag: "holdout-domains",
                           "Comma-separated domains (corpus file names) kept out of training: only validation and probe text",
                           \TrainingOptions.holdoutDomains,
                           check: { ($0 ?? []).contains(where: \.isEmpty) ? "domain names must not be empty" : nil })),
        AnySetting(Setting("steps", flag: "steps", "Optimizer steps", \TrainingOptions.steps, check: range(1...SizeLimits.steps))),
        AnySetting(Setting("batch", flag: "batch", "Sequences per batch", \TrainingOptions.batch, check: range(1...SizeLimits.batch))),
        AnySetting(Setting("learningRate", flag: "lr", "Peak learning rate", \TrainingOptions.learningRate,
                           check: { $0 > 0 && $0.isFinite ? nil : "must be positive and finite" })),
        AnySetting(Setting("routerLearningRate", flag: "router-lr", "Peak learning rate of router parameters",
                           \TrainingOptions.routerLearningRate, check: { $0 >= 0 && $0.isFinite ? nil : "must be 0 or more and finite" })),
        AnySetting(Setting("warmup", flag: "warmup", "Warm-up steps", \TrainingOptions.warmup, check: range(0...SizeLimits.steps))),
        AnySetting(Setting("seed", flag: "seed", "Random seed", \TrainingOptions.seed)),
        AnySetting(Setting("threads", flag: "threads", "Worker threads, 0 for all cores", \TrainingOptions.threads,
                           check: { (0...SizeLimits.threads).contains($0) ? nil : "must be 0 (every core) ... \(SizeLimits.threads)" })),
        AnySetting(Setting("snapshotEvery", flag: "snapshot-every", "Steps between snapshots", \TrainingOptions.snapshotEvery,
                           check: range(1...SizeLimits.steps))),
        AnySetting(Setting("evalEvery", flag: "eval-every", "Steps between validation passes", \TrainingOptions.evalEvery,
                           check: range(1...SizeLimits.steps))),
        AnySetting(Setting("auxLoss", flag: "aux-loss", "Softmax router auxiliary balance loss weight", \TrainingOptions.auxLoss,
                           check: weight)),
        AnySetting(Setting("zLoss", flag: "z-loss", "Softmax router z-loss weight", \TrainingOptions.zLoss, check: weight)),
        AnySetting(Setting("biasRate", flag: "bias-rate", "Sigmoid-bias router: selection-bias step toward balance per training step",
                           \TrainingOptions.biasRate, check: { $0.flatMap(weight) })),
        AnySetting(Setting("reactivation", flag: "reactivation",
                           "Reactivation of dead components: reset (balances best from scratch; docs/results.md), loss (L_react pull) or off",
                           \TrainingOptions.reactivation)),
        AnySetting(Setting("reactEvery", flag: "react-every", "Steps between dead-component checks", \TrainingOptions.reactEvery,
                           check: range(1...SizeLimits.steps))),
        AnySetting(Setting("reactSteps", flag: "react-steps", "Steps a dead component is pulled back", \TrainingOptions.reactSteps,
                           check: range(1...SizeLimits.steps))),
        AnySetting(Setting("reconstructionWeight", flag: "lambda-rec", "Reconstruction loss weight", \TrainingOptions.reconstructionWeight,
                           check: weight)),
        AnySetting(Setting("reactivationWeight", flag: "lambda-react", "Reactivation loss weight", \TrainingOptions.reactivationWeight,
                           check: weight)),
        AnySetting(Setting("nllToEncoder", flag: "nll-to-encoder", "Let the mixture's NLL train the IDA encoder too (docs/decisions.md)",
                           \TrainingOptions.nllToEncoder)),
        AnySetting(Setting("mixtureInit", flag: "mixture-init",
                           "Where the IDA mixture's means start: random latents of a first batch or k-means++ seeds of them",
                           \TrainingOptions.mixtureInit)),
        AnySetting(Setting("routerSchedule", flag: "router-lr-schedule",
                           "Router learning rate after warm-up: the backbone's cosine decay or constant", \TrainingOptions.routerSchedule)),
        AnySetting(Setting("reseed", flag: "reseed",
                           "Where IDA reactivation sends a dead component: a batch's worst outliers, a pool of the worst-explained tenth of the last four batches, or a token of the busiest component with its variances (split)",
                           \TrainingOptions.reseed)),
        AnySetting(Setting("minLearningRateRatio", flag: nil, "Final learning rate as a share of the peak", \TrainingOptions.minLearningRateRatio,
                           check: { $0 >= 0 && $0 <= 1 ? nil : "must be in [0, 1]" })),
        AnySetting(Setting("weightDecay", flag: nil, "AdamW decoupled weight decay", \TrainingOptions.weightDecay,
                           check: { $0 >= 0 && $0.isFinite ? nil : "must be 0 or more and finite" })),
        AnySetting(Setting("gradientClip", flag: nil, "Global gradient-norm clip", \TrainingOptions.gradientClip,
                           check: { $0 > 0 && $0.isFinite ? nil : "must be positive and finite" })),
        AnySetting(Setting("evalWindows", flag: nil, "Validation windows of T bytes per domain", \TrainingOptions.evalWindows,
                           check: range(1...(1 << 16)))),
        AnySetting(Setting("validationShare", flag: nil, "Share of each domain's documents held out for validation",
                           \TrainingOptions.validationShare, check: { $0 > 0 && $0 < 1 ? nil : "must be between 0 and 1" })),
        AnySetting(Setting("reactTau", flag: nil, "Dead threshold tau (dead below tau / K)", \TrainingOptions.reactTau,
                           check: weight)),
        AnySetting(Setting("probeRule", flag: nil, "How the probe's documents are chosen", \TrainingOptions.probeRule)),
    ]
}

/// "must be 0 or more" for a negative or non-finite weight.
@Sendable func weight(_ value: Double) -> String? {
    value >= 0 && value.isFinite ? nil : "must be 0 or more"
}
