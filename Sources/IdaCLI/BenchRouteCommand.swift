import IdaBench
import ArgumentParser
import Foundation
import IdaBLAS
import IdaNumerics
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
        let config = RouterConfig(experts: 8, componentsPerExpert: 16, latentDim: 32, topK: 2)
        try StandardOutput.line("system: \(BLASSystem.current().summary)")
        try StandardOutput.line("bench route: N \(tokens), P 32, E 8, M 16 (K 128), k 2, encoder D -> \(hidden) -> 32, block \(blockSize)")
        try StandardOutput.line("    D  threads   tokens/s   GFLOP/s  sgemm peak  share   N/4 tok/s  N/2 tok/s")
        for d in widths {
            var rng = SeededGenerator(seed: 1)
            let router = try IDARouter(config: config, hiddenDim: d, hidden: [hidden], rng: &rng)
            let pool = randomBlock(rows: min(blockSize, tokens), cols: d, seed: 2)
            // Encoder GEMMs in float, the two GMM GEMMs in double: FLOPs per token.
            let flops = Double(2 * d * hidden + 2 * hidden * 32 + 2 * 2 * 128 * 32)
            for threads in Array(Set([1, cores])).sorted() {
                // The peak is one big GEMM split by rows over the workers; routing spreads blocks over
                // the workers, each single-threaded, as `idamoe route` does.
                let peak = measureSgemmPeak(threads: threads)
                _ = route(router, pool, tokens: min(tokens, blockSize), workers: threads)  // warm-up
                let full = route(router, pool, tokens: tokens, workers: threads)
                let quarter = route(router, pool, tokens: max(1, tokens / 4), workers: threads)
                let half = route(router, pool, tokens: max(1, tokens / 2), workers: threads)
                let gflops = flops * full / 1e9
                try StandardOutput.line(String(format: "%5d  %7d  %9.0f  %8.1f  %10.1f  %4.0f%%  %10.0f %10.0f",
                             d, threads, full, gflops, peak, 100 * gflops / peak, quarter, half))
            }
        }
        try StandardOutput.line(String(format: "peak resident memory %.1f MiB", peakResidentMiB()))
    }

    /// Tokens per second routing `tokens` tokens in blocks cycled from `pool`, spread over `workers` threads.
    func route(_ router: IDARouter, _ pool: Matrix, tokens: Int, workers: Int) -> Double {
        let blocks = (tokens + pool.rows - 1) / pool.rows
        let t0 = monotonicSeconds()
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var b = w
            while b < blocks {
                let n = min(pool.rows, tokens - b * pool.rows)
                let result = router.route(n == pool.rows ? pool : pool.rows(0..<n))
                precondition(result.entropyBits.allSatisfy(\.isFinite), "non-finite routing in benchmark")
                b += workers
            }
        }
        return Double(tokens) / (monotonicSeconds() - t0)
    }

    func randomBlock(rows: Int, cols: Int, seed: UInt64) -> Matrix {
        var rng = SeededGenerator(seed: seed)
        var m = Matrix(rows: rows, cols: cols)
        for i in m.data.indices { m.data[i] = rng.normal() }
        return m
    }
}
