import ArgumentParser
import Foundation
import IdaBLAS
import IdaBench
import IdaSystem

/// `idamoe bench route`: tokens per second through one IDA layer.
struct BenchRouteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "route",
        abstract: "Tokens per second through one IDA router layer (P 32, E 8, M 16, k 2).")

    @Option(help: "Tokens to route per measurement.")
    var tokens = 50_000

    @Option(help: "Hidden widths D to measure, comma-separated.")
    var dims = "512,2048"

    @Option(help: "Encoder hidden width (encoder D -> H -> P, decoder mirrored).")
    var hidden = 128

    @Option(name: .customLong("block-size"), help: "Tokens per routed block.")
    var blockSize = 2048

    func run() throws {
        let widths = dims.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !widths.isEmpty, widths.allSatisfy({ $0 > 0 }), tokens > 0, blockSize > 0 else {
            throw ValidationError("--dims needs positive integers; --tokens and --block-size must be positive")
        }
        let cores = Cores.available
        let bench = RouteBench(tokens: tokens, hidden: hidden, blockSize: blockSize)
        try StandardOutput.line("system: \(BLASSystem.current().summary)")
        try StandardOutput.line("bench route: N \(tokens), P 32, E 8, M 16 (K 128), k 2, encoder D -> \(hidden) -> 32, block \(blockSize)")
        try StandardOutput.line("    D  threads   tokens/s   GFLOP/s  sgemm peak  share   N/4 tok/s  N/2 tok/s")
        for d in widths {
            try bench.measure(width: d, threadCounts: Array(Set([1, cores])).sorted()) { r in
                try StandardOutput.line(String(format: "%5d  %7d  %9.0f  %8.1f  %10.1f  %4.0f%%  %10.0f %10.0f",
                             r.width, r.threads, r.tokensPerSecond, r.gflops, r.sgemmPeak, 100 * r.gflops / r.sgemmPeak,
                             r.quarterTokensPerSecond, r.halfTokensPerSecond))
            }
        }
        try StandardOutput.line(String(format: "peak resident memory %.1f MiB", ResourceUsage.peakResidentMiB()))
    }
}
