import ArgumentParser
import Foundation
import IdaBLAS

/// The `idamoe` command line: one subcommand per job.
public struct IdamoeCommand: ParsableCommand {
    /// Subcommands and help text.
    public static let configuration = CommandConfiguration(
        commandName: "idamoe",
        abstract: "Train, route and inspect Input-Domain-Aware Mixture-of-Experts routers.",
        version: "0.1.0",
        subcommands: [InfoCommand.self, RouteCommand.self, BenchCommand.self]
    )

    /// Required by ArgumentParser.
    public init() {}
}

/// Sets OpenBLAS's thread count from a `--threads` option (0 or nil: every core).
func configureThreads(_ requested: Int?) -> Int {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let n = (requested ?? 0) > 0 ? (requested ?? 1) : cores
    BLAS.setThreads(n)
    return n
}

