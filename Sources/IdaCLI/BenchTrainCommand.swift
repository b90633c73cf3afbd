import ArgumentParser
import Foundation
import IdaBLAS
import IdaBench
import IdaRouting
import IdaSystem
import IdaTraining

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
        let bench = try TrainBench(directory: dir, steps: steps, threads: cores)
        let peak = GEMMPeaks.sgemm(threads: cores)
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
            let trainer = try SettingFlags.naming { try bench.trainer(for: config) }
            let r = try bench.measure(trainer)
            let rate = r.tokensPerSecond, flops = r.flopsPerToken
            try StandardOutput.line(router.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0) + String(format: "  %8.0f  %7.1f  %10.0f%%  %11.2f  %7.1f  %12.0f%%",
                         rate, 1000 * r.elapsed / Double(steps), 100 * r.gemmSeconds / (r.elapsed * Double(cores)),
                         flops / 1e6, flops * rate / 1e9, 100 * flops * rate / 1e9 / peak))
            if phases { phaseLines.append(TrainBench.phaseLine(router.rawValue, r.timings, elapsed: r.elapsed)) }
        }
        if phases {
            try StandardOutput.line("ms per step by phase: forward and backward are wall time with the slowest-fastest worker's own in")
            try StandardOutput.line("brackets; combine (the routings), merge (the gradients), optimizer and reactivation run between them;")
            try StandardOutput.line("outside: the rest of the loop (event log, summaries)")
            for line in phaseLines { try StandardOutput.line(line) }
        }
    }
}
