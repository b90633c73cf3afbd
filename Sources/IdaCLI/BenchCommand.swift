import ArgumentParser

/// `idamoe bench`: measured speed of the hot paths (benchmarks, not tests).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the speed of routing, training and rendering.",
        subcommands: [BenchRouteCommand.self, BenchTrainCommand.self, BenchRenderCommand.self, BenchSynthCommand.self,
                      BenchScaleCommand.self])
}
