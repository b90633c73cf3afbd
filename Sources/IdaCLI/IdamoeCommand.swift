import ArgumentParser
import IdaBLAS

/// The `idamoe` command line: one subcommand per job.
public struct IdamoeCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "idamoe",
        abstract: "Train, route and inspect Input-Domain-Aware Mixture-of-Experts routers.",
        version: "0.1.0",
        subcommands: []
    )
    public init() {}
    public func run() throws {
        print("idamoe: BLAS threads \(BLAS.threads)")
    }
}
