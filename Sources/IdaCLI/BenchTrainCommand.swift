import IdaBench
import ArgumentParser
import Foundation
import IdaBLAS
import IdaNumerics
import IdaRouting
import IdaTraining
import IdaSystem

/// `idamoe bench train`: training tokens per second of the default configuration.
struct BenchTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Training tokens per second (forward + backward + update) of the default model, and the share of time in GEMMs.",
        discussion: "The model is the default unless changed by its flags:\n\n" + SettingOptions.help(training: false))

    @Option(help: "Timed steps per router.") var steps = 20
    @Option(help: "Routers to measure, comma-separated (each replaces --router).") var routers = "ida,softmax"
    @OptionGroup var threads: ThreadsOption
    @Flag(help: "Also print where each step's time went (ms per step by phase).") var phases = false
    @OptionGroup var settings: SettingOptions

    func validate() throws {
        if steps < 1 { throw ValidationError("--steps must be at least 1 (tokens per second over no steps is not a number)") }
    }

    func run() throws {
        tuneAllocator()
        let kinds = try routers.split(separator: ",").map { name in
            guard let kind = RouterKind(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("--routers: unknown router '\(name)' (\(RouterKind.namesText))")
            }
            return kind
        }
        if let training = try settings.given().first(where: { if case .training = $0 { return true } else { return false } }) {
            throw ValidationError("\(training.flag) is a training flag; bench train takes model flags only")
        }
        let base = try settings.applied().model
        let cores = try threads.workers()
        let dir = NSTemporaryDirectory() + "idamoe-bench-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let corpus = try benchCorpus(in: dir)
        let peak = measureSgemmPeak(threads: cores)
        try StandardOutput.line("system: \(BLASSystem.current().summary)")
        let c = base
        try StandardOutput.line("bench train: model D \(c.width), \(c.heads) heads, \(c.blocks) blocks, T \(c.context), batch \(TrainingOptions().batch), "
              + "E \(c.experts), k \(c.topK), F \(c.expertHidden), M \(c.componentsPerExpert), P \(c.latentDim); \(cores) threads")
        try StandardOutput.line(String(format: "sgemm peak %.1f GFLOP/s (1024^3)", peak))
        // GEMM of CPU: time inside GEMM calls (summed over the workers, which run GEMMs at once) over
        // the workers' time, elapsed x threads.
        try StandardOutput.line("router    tokens/s  ms/step  GEMM of CPU  MFLOP/token  GFLOP/s  share of peak")
        var phaseLines: [String] = []
        for router in kinds {
            var config = base
            config.router = router
            var options = TrainingOptions()
            options.corpus = [corpus]
            options.steps = steps + 1000  // never reached: no final validation or snapshot inside the timing
            options.snapshotEvery = 1_000_000
            options.evalEvery = 1_000_000
            options.threads = cores
            let trainer = try SettingFlags.naming {
                try Trainer(config: config, options: options, runDir: "\(dir)/\(router.rawValue)")
            }
            try trainer.train(stopAt: 3)  // warm-up
            trainer.resetStepTimings()
            BLAS.gemmSeconds = 0
            BLAS.profiling = true
            let t0 = monotonicSeconds()
            try trainer.train(stopAt: 3 + steps)
            let elapsed = monotonicSeconds() - t0
            BLAS.profiling = false
            let tokens = Double(steps * options.batch * config.context)
            let flops = Self.flopsPerToken(config)
            let rate = tokens / elapsed
            try StandardOutput.line(router.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0) + String(format: "  %8.0f  %7.1f  %10.0f%%  %11.2f  %7.1f  %12.0f%%",
                         rate, 1000 * elapsed / Double(steps), 100 * BLAS.gemmSeconds / (elapsed * Double(cores)),
                         flops / 1e6, flops * rate / 1e9, 100 * flops * rate / 1e9 / peak))
            if phases { phaseLines.append(Self.phaseLine(router.rawValue, trainer.stepTimings, elapsed: elapsed)) }
        }
        if phases {
            try StandardOutput.line("ms per step by phase: forward and backward are wall time with the slowest-fastest worker's own in")
            try StandardOutput.line("brackets; combine (the routings), merge (the gradients), optimizer and reactivation run between them;")
            try StandardOutput.line("outside: the rest of the loop (event log, summaries)")
            for line in phaseLines { try StandardOutput.line(line) }
        }
    }

    /// One router's phases in ms per step.
    static func phaseLine(_ name: String, _ t: StepTimings, elapsed: Double) -> String {
        let n = Double(max(t.steps, 1))
        let ms = { (s: Double) in String(format: "%.1f", 1000 * s / n) }
        return name.padding(toLength: 8, withPad: " ", startingAt: 0)
            + "  forward \(ms(t.forward)) [\(ms(t.forwardSlowest))-\(ms(t.forwardFastest))]"
            + "  combine \(ms(t.combine))  backward \(ms(t.backward)) [\(ms(t.backwardSlowest))-\(ms(t.backwardFastest))]"
            + "  merge \(ms(t.merge))  optimizer \(ms(t.optimizer))  reactivation \(ms(t.reactivation))"
            + "  outside \(ms(max(0, elapsed - t.total)))"
    }

    /// Forward + backward FLOPs per token (3x the forward's multiply-adds x 2), GEMMs only.
    static func flopsPerToken(_ c: ModelConfig) -> Double {
        let d = Double(c.width), t = Double(c.context), f = Double(c.expertHidden), k = Double(c.topK)
        let attention = 2 * d * 3 * d + 2 * d * d + 2 * 2 * t * d  // qkv, proj, scores and weighted sum (full T x T)
        let upWidth = c.expertKind == .swiglu ? 2 * f : f
        let experts = k * (2 * d * upWidth + 2 * f * d)
        var router = 2 * d * Double(c.experts)
        if c.router == .ida {
            var widths = [c.width] + c.routerHidden + [c.latentDim]
            var ae = 0.0
            for j in 0..<(widths.count - 1) { ae += 2 * Double(widths[j] * widths[j + 1]) }
            widths.reverse()
            ae *= 2  // decoder mirrors the encoder
            router = ae + 2 * 2 * Double(c.experts * c.componentsPerExpert * c.latentDim)
        }
        let moeBlocks = Double(c.moeLayers.count), denseBlocks = Double(c.blocks) - moeBlocks
        let dense = 2 * d * upWidth + 2 * f * d
        let forward = Double(c.blocks) * attention + moeBlocks * (experts + router) + denseBlocks * dense + 2 * d * Double(c.vocab)
        return 3 * forward
    }

    /// Debian's fortunes when installed, otherwise a synthetic three-domain corpus.
    func benchCorpus(in dir: String) throws -> String {
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
