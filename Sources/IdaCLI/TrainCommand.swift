import ArgumentParser
import Foundation
import IdaTraining

/// `idamoe train`: trains a small MoE transformer on the CPU and writes a live run directory.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a small MoE transformer on the CPU, writing a live run directory.",
        discussion: "Default corpus: Debian's fortunes (one domain per file). Kill it at any moment; --resume DIR continues.")

    @Option(help: "Run directory (default: runs/<timestamp>-<router>).") var runDir: String?
    @Option(help: "Continue the run in this directory from its newest complete snapshot.") var resume: String?
    @Option(parsing: .upToNextOption, help: "Corpus files or folders (each file a domain).") var corpus: [String] = []
    @Option(help: "Router: ida or softmax.") var router = "ida"
    @Option(name: .customLong("aux-loss"), help: "Softmax router auxiliary balance loss weight.") var auxLoss = 0.0
    @Option(name: .customLong("z-loss"), help: "Softmax router z-loss weight.") var zLoss = 0.0
    @Option(help: "Optimizer steps.") var steps = 2000
    @Option(help: "Sequences per batch.") var batch = 16
    @Option(help: "Context length T.") var context = 128
    @Option(help: "Model width D.") var width = 128
    @Option(help: "Attention heads.") var heads = 4
    @Option(help: "Transformer blocks.") var blocks = 4
    @Option(help: "Experts per MoE layer.") var experts = 8
    @Option(name: .customLong("top-k"), help: "Experts per token.") var topK = 2
    @Option(name: .customLong("expert-hidden"), help: "Hidden width of each expert.") var expertHidden = 256
    @Option(help: "Expert MLP: gelu or swiglu.") var expert = "gelu"
    @Option(name: .customLong("moe-every"), help: "A MoE layer in every N-th block.") var moeEvery = 1
    @Option(help: "Gaussian components per expert M (IDA).") var components = 16
    @Option(help: "Latent width P (IDA).") var latent = 32
    @Option(name: .customLong("router-hidden"), help: "Router encoder hidden widths, comma-separated.") var routerHidden = "128"
    @Option(name: .customLong("expert-score"), help: "IDA expert score: max or sum.") var expertScore = "max"
    @Option(name: .customLong("input-norm"), help: "IDA router input normalisation: none or rms.") var inputNorm = "rms"
    @Option(name: .customLong("latent-norm"), help: "IDA latent normalisation before the mixture: rms or none.") var latentNorm = "rms"
    @Option(name: .customLong("log-var-min"), help: "IDA log-variance clamp, lower end.") var logVarMin: Float = -6
    @Option(name: .customLong("log-var-max"), help: "IDA log-variance clamp, upper end.") var logVarMax: Float = 6
    @Option(help: "Reactivation of dead components: loss, reset (balances best from scratch; docs/results.md) or off.")
    var reactivation = "loss"
    @Option(name: .customLong("react-every"), help: "Steps between dead-component checks.") var reactEvery = 50
    @Option(name: .customLong("react-steps"), help: "Steps a dead component is pulled back.") var reactSteps = 20
    @Option(name: .customLong("lambda-rec"), help: "Reconstruction loss weight.") var lambdaRec = 1.0
    @Option(name: .customLong("lambda-react"), help: "Reactivation loss weight.") var lambdaReact = 1.0
    @Option(help: "Peak learning rate.") var lr: Float = 1e-3
    @Option(name: .customLong("router-lr"), help: "Peak learning rate of router parameters.") var routerLR: Float = 1e-2
    @Option(help: "Warm-up steps.") var warmup = 100
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "OpenBLAS threads (0: all cores).") var threads = 0
    @Option(name: .customLong("snapshot-every"), help: "Steps between snapshots.") var snapshotEvery = 200
    @Option(name: .customLong("eval-every"), help: "Steps between validation passes.") var evalEvery = 200
    @Flag(help: "Plain log lines even in a terminal.") var quiet = false

    func run() throws {
        tuneAllocator()
        var model = ModelConfig()
        model.router = router
        model.context = context
        model.width = width
        model.heads = heads
        model.blocks = blocks
        model.experts = experts
        model.topK = topK
        model.expertHidden = expertHidden
        model.expertKind = expert
        model.moeEvery = moeEvery
        model.componentsPerExpert = components
        model.latentDim = latent
        let widths = routerHidden.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard widths.allSatisfy({ $0 != nil }) else { throw ValidationError("--router-hidden must be comma-separated integers") }
        model.routerHidden = widths.compactMap { $0 }
        model.expertScore = expertScore
        model.inputNorm = inputNorm
        model.latentNorm = latentNorm
        model.logVarMin = logVarMin
        model.logVarMax = logVarMax
        var options = TrainingOptions()
        options.steps = steps
        options.batch = batch
        options.learningRate = lr
        options.routerLearningRate = routerLR
        options.warmup = warmup
        options.seed = seed
        options.threads = threads
        options.snapshotEvery = snapshotEvery
        options.evalEvery = evalEvery
        options.auxLoss = auxLoss
        options.zLoss = zLoss
        options.reactivation = reactivation
        options.reactEvery = reactEvery
        options.reactSteps = reactSteps
        options.reconstructionWeight = lambdaRec
        options.reactivationWeight = lambdaReact
        if !corpus.isEmpty { options.corpus = corpus }

        let dir: String
        if let resume {
            dir = resume
        } else if let runDir {
            dir = runDir
        } else {
            let stamp = DateFormatter()
            stamp.dateFormat = "yyyyMMdd-HHmmss"
            dir = "runs/\(stamp.string(from: Date()))-\(router)"
        }
        let trainer = try Trainer(config: model, options: options, runDir: dir, resume: resume != nil)
        let live = !quiet && isatty(2) != 0
        FileHandle.standardError.write(Data("idamoe train: \(trainer.model.parameterCount) parameters, \(trainer.dataset.domainNames.count) domains, run \(dir)\n".utf8))
        var lastPrinted = Date.distantPast
        try trainer.train { r in
            let val = r.validationBitsPerByte.map { String(format: " val %.3f bpb", $0) } ?? ""
            let text = String(format: "step %d/%d  loss %.4f  %.0f tok/s  CVmean %.3f%@  ETA %@",
                              r.step, r.steps, r.loss, r.tokensPerSecond, r.cvMean, val, formatDuration(r.eta))
            if live {
                if Date().timeIntervalSince(lastPrinted) > 0.2 || r.step == r.steps {
                    FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
                    lastPrinted = Date()
                }
            } else if r.step % 10 == 0 || r.step == r.steps || r.step == 1 {
                FileHandle.standardError.write(Data((text + "\n").utf8))
            }
        }
        if live { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// 75 -> "1m15s".
func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "-" }
    let s = Int(seconds.rounded())
    if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m" }
    if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
    return "\(s)s"
}
