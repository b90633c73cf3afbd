import IdaNumerics

/// Optimisation, data and logging settings of a run (the model's shape is `ModelConfig`).
public struct TrainingOptions: Sendable, Equatable, Codable {
    /// Optimizer steps.
    public var steps = 2000
    /// Sequences per batch B.
    public var batch = 16
    /// Peak learning rate of the backbone.
    public var learningRate: Float = 1e-3
    /// Peak learning rate of router parameters.
    public var routerLearningRate: Float = 1e-2
    /// Linear warm-up steps.
    public var warmup = 100
    /// Final learning rate as a share of the peak (cosine decay).
    public var minLearningRateRatio: Float = 0.1
    /// AdamW decoupled weight decay (backbone matrices only).
    public var weightDecay: Float = 0.1
    /// Global gradient-norm clip, applied to backbone and router gradients separately.
    public var gradientClip: Double = 1.0
    /// Seed for initialisation, data order and reactivation draws.
    public var seed: UInt64 = 1
    /// Worker threads of every kernel (0: every core); OpenBLAS itself runs single-threaded.
    public var threads = 0
    /// Steps between snapshots.
    public var snapshotEvery = 200
    /// Steps between validation passes.
    public var evalEvery = 200
    /// Validation windows of T bytes per domain in each validation pass.
    public var evalWindows = 4
    /// Share of each domain's documents held out for validation.
    public var validationShare = 0.1
    /// lambda_rec.
    public var reconstructionWeight = 1.0
    /// lambda_react.
    public var reactivationWeight = 1.0
    /// Whether L_nll's gradient reaches the IDA encoder through z (docs/decisions.md: off by default;
    /// absent in runs written before it was a setting, which trained with it off).
    public var nllToEncoder: Bool? = false
    /// Where the IDA mixture's means start: random latents of a first batch, or k-means++ seeds of
    /// them; absent in runs written before it was a setting (random).
    public var mixtureInit: MixtureInit? = .random
    /// The router learning rate after warm-up: the backbone's cosine decay, or constant at the peak;
    /// absent in runs written before it was a setting (cosine).
    public var routerSchedule: RouterSchedule? = .cosine
    /// Reactivation of dead components: `reset` balances best (docs/results.md, docs/decisions.md
    /// "Defaults"); the issue-era `loss` stays available.
    public var reactivation = ReactivationMode.reset
    /// Where reactivated components go: `split` for new runs (docs/results.md, "Balance by
    /// construction"); absent in runs written before it was a setting (outliers).
    public var reseed: Reseed? = .split
    /// Steps between dead-component checks.
    public var reactEvery = 50
    /// Steps of reactivation pull.
    public var reactSteps = 20
    /// Dead threshold tau (dead below tau / K).
    public var reactTau = ReactivationConfig.defaultTau
    /// Softmax router auxiliary balance loss weight alpha.
    public var auxLoss = 0.0
    /// Softmax router z-loss weight beta.
    public var zLoss = 0.0
    /// Sigmoid-bias router: how far each expert's selection bias moves per step toward balance
    /// (DeepSeek-V3's gamma); absent in runs written before the router existed.
    public var biasRate: Double? = 0.001
    /// Corpus files or folders (default: Debian's fortunes).
    public var corpus: [String] = [Self.defaultCorpus]
    /// Domains (corpus file names) that give no training text, only validation and probe text (the
    /// out-of-domain experiment); absent in runs written before it existed (none).
    public var holdoutDomains: [String]? = []
    /// How the probe's documents are chosen: by the corpus alone, so runs on one corpus with other
    /// seeds hold the same probe text and compare token by token; absent in runs written
    /// before it existed, whose probe followed the seeded validation split (`seeded`).
    public var probeRule: ProbeRule? = .corpus

    /// Default options.
    public init() {}

    /// How a run's probe documents are chosen (docs/decisions.md, "The probe belongs to the corpus").
    public enum ProbeRule: String, Sendable, CaseIterable {
        /// The leading validation documents of each domain under the seeded split (runs written before the corpus rule).
        case seeded
        /// Each domain's documents with the smallest content hash, always held out of training,
        /// whatever the seed; the rest of the split stays seeded.
        case corpus
    }

    /// The router learning rate's schedule after warm-up (`--router-lr-schedule`).
    public enum RouterSchedule: String, Sendable, CaseIterable, NamedChoice {
        /// The backbone's cosine decay to `minLearningRateRatio` of the peak.
        case cosine
        /// The peak, held to the end.
        case constant
    }

    /// Debian's fortunes, one domain per file: the corpus when none is named.
    public static let defaultCorpus = "/usr/share/games/fortunes"

    /// The reactivation settings.
    public var reactivationConfig: ReactivationConfig {
        ReactivationConfig(mode: reactivation, every: reactEvery,
                           steps: reactSteps, tau: reactTau, reseed: reseed ?? .outliers)
    }

    /// Checks values; the error names the offending field (`SettingError.invalidSetting`).
    public func validate() throws {
        for setting in Self.settings {
            if let problem = setting.problem(in: self) { throw SettingError.invalidSetting(key: setting.key, problem: problem) }
        }
    }
}
