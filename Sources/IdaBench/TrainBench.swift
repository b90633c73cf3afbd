import Foundation
import IdaBLAS
import IdaNumerics
import IdaRouting
import IdaSystem
import IdaTraining

/// `idamoe bench train`'s measure: training tokens per second (forward + backward + update) of a
/// model, the share of the workers' time inside GEMM calls, and where each step's time went.
public struct TrainBench {
    /// The corpus trained on: Debian's fortunes when installed, else a synthetic one under `directory`.
    public let corpus: String
    /// Where the runs (and a synthetic corpus) are written; the caller deletes it.
    public let directory: String
    /// Timed steps per model.
    public let steps: Int
    /// Training threads.
    public let threads: Int

    /// A benchmark of `steps` timed steps on `threads` threads, writing under `directory`.
    public init(directory: String, steps: Int, threads: Int) throws {
        self.directory = directory
        self.steps = steps
        self.threads = threads
        corpus = try Self.corpus(in: directory)
    }

    /// One model's figures.
    public struct Row {
        /// Timed steps.
        public var steps: Int
        /// Tokens those steps trained on.
        public var tokens: Double
        /// Wall time of the timed steps (s).
        public var elapsed: Double
        /// Time inside GEMM calls, summed over the workers (s).
        public var gemmSeconds: Double
        /// Forward + backward GEMM FLOPs per token (`flopsPerToken`).
        public var flopsPerToken: Double
        /// Where the steps' time went.
        public var timings: StepTimings

        /// Training tokens per second.
        public var tokensPerSecond: Double { tokens / elapsed }
    }

    /// A trainer of `config` on the corpus that never reaches a validation or snapshot inside the
    /// timing; throws the settings' `SettingError`s.
    public func trainer(for config: ModelConfig) throws -> Trainer {
        var options = TrainingOptions()
        options.corpus = [corpus]
        options.steps = steps + 1000  // never reached: no final validation or snapshot inside the timing
        options.snapshotEvery = 1_000_000
        options.evalEvery = 1_000_000
        options.threads = threads
        return try Trainer(config: config, options: options, runDir: "\(directory)/\(config.router.rawValue)")
    }

    /// Three warm-up steps, then `steps` timed ones with GEMM calls profiled.
    public func measure(_ trainer: Trainer) throws -> Row {
        try trainer.train(stopAt: 3)  // warm-up
        trainer.resetStepTimings()
        BLAS.gemmSeconds = 0
        BLAS.profiling = true
        let t0 = monotonicSeconds()
        try trainer.train(stopAt: 3 + steps)
        let elapsed = monotonicSeconds() - t0
        BLAS.profiling = false
        return Row(steps: steps, tokens: Double(steps * trainer.options.batch * trainer.config.context), elapsed: elapsed,
                   gemmSeconds: BLAS.gemmSeconds, flopsPerToken: Self.flopsPerToken(trainer.config),
                   timings: trainer.stepTimings)
    }

    /// One router's phases in ms per step.
    public static func phaseLine(_ name: String, _ t: StepTimings, elapsed: Double) -> String {
        let n = Double(max(t.steps, 1))
        let ms = { (s: Double) in String(format: "%.1f", 1000 * s / n) }
        return name.padding(toLength: 8, withPad: " ", startingAt: 0)
            + "  forward \(ms(t.forward)) [\(ms(t.forwardSlowest))-\(ms(t.forwardFastest))]"
            + "  combine \(ms(t.combine))  backward \(ms(t.backward)) [\(ms(t.backwardSlowest))-\(ms(t.backwardFastest))]"
            + "  merge \(ms(t.merge))  optimizer \(ms(t.optimizer))  reactivation \(ms(t.reactivation))"
            + "  outside \(ms(max(0, elapsed - t.total)))"
    }

    /// Forward + backward FLOPs per token (3x the forward's multiply-adds x 2), GEMMs only.
    public static func flopsPerToken(_ c: ModelConfig) -> Double {
        let d = Double(c.width), t = Double(c.context), f = Double(c.expertHidden), k = Double(c.topK)
        let attention = 2 * d * 3 * d + 2 * d * d + 2 * 2 * t * d  // qkv, proj, scores and weighted sum (full T x T)
        let upWidth = c.expertKind == .swiglu ? 2 * f : f
        let experts = k * (2 * d * upWidth + 2 * f * d)
        var router = 2 * d * Double(c.experts)
        if c.router == .ida {
            let widths = [c.width] + c.routerHidden + [c.latentDim]
            var ae = 0.0
            for j in 0..<(widths.count - 1) { ae += 2 * Double(widths[j] * widths[j + 1]) }
            ae *= 2  // decoder mirrors the encoder
            router = ae + 2 * 2 * Double(c.experts * c.componentsPerExpert * c.latentDim)
        }
        let moeBlocks = Double(c.moeLayers.count), denseBlocks = Double(c.blocks) - moeBlocks
        let dense = 2 * d * upWidth + 2 * f * d
        let forward = Double(c.blocks) * attention + moeBlocks * (experts + router) + denseBlocks * dense + 2 * d * Double(c.vocab)
        return 3 * forward
    }

    /// Debian's fortunes when installed, otherwise a synthetic three-domain corpus written under `dir`.
    public static func corpus(in dir: String) throws -> String {
        if FileManager.default.fileExists(atPath: Corpus.defaultPath) { return Corpus.defaultPath }
        let path = dir + "/corpus"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for d in 0..<3 {
            let docs = (0..<400).map { "document \($0) of domain \(d): " + String(repeating: "abc\(d) ", count: 20) }
            try docs.joined(separator: "\n%\n").write(toFile: "\(path)/domain\(d)", atomically: true, encoding: .utf8)
        }
        return path
    }
}
