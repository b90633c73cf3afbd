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
    /// OpenBLAS threads (0: every core).
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
    /// Reactivation mode: loss, reset or off.
    public var reactivation = "loss"
    /// Steps between dead-component checks.
    public var reactEvery = 50
    /// Steps of reactivation pull.
    public var reactSteps = 20
    /// Dead threshold tau (dead below tau / K).
    public var reactTau = 0.1
    /// Softmax router auxiliary balance loss weight alpha.
    public var auxLoss = 0.0
    /// Softmax router z-loss weight beta.
    public var zLoss = 0.0
    /// Corpus files or folders (default: Debian's fortunes).
    public var corpus: [String] = [Corpus.defaultPath]

    /// Default options.
    public init() {}

    /// The reactivation settings.
    public var reactivationConfig: ReactivationConfig {
        ReactivationConfig(mode: ReactivationMode(rawValue: reactivation) ?? .loss, every: reactEvery,
                           steps: reactSteps, tau: reactTau)
    }

    /// Checks values; throws a one-line error naming the flag.
    public func validate() throws {
        func fail(_ message: String) throws { throw TrainingError.invalidOption(message) }
        if steps < 1 { try fail("--steps must be at least 1") }
        if batch < 1 { try fail("--batch must be at least 1") }
        if !(learningRate > 0 && learningRate.isFinite) || !(routerLearningRate >= 0 && routerLearningRate.isFinite) {
            try fail("learning rates must be positive and finite")
        }
        if warmup < 0 { try fail("--warmup must be 0 or more") }
        if snapshotEvery < 1 || evalEvery < 1 { try fail("--snapshot-every and --eval-every must be at least 1") }
        if !(validationShare > 0 && validationShare < 1) { try fail("--validation-share must be between 0 and 1") }
        if ReactivationMode(rawValue: reactivation) == nil { try fail("--reactivation must be loss, reset or off") }
        if reactEvery < 1 || reactSteps < 1 { try fail("--react-every and --react-steps must be at least 1") }
        if auxLoss < 0 || zLoss < 0 || reconstructionWeight < 0 || reactivationWeight < 0 {
            try fail("loss weights must be 0 or more")
        }
    }
}
