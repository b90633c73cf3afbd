import Foundation
import IdaNumerics
import IdaSystem

/// `idamoe bench route`'s measure: tokens per second through one IDA router layer (P 32, E 8, M 16,
/// k 2) of a given hidden width, routed in blocks spread over workers as `idamoe route` does.
public struct RouteBench {
    /// The router measured: E 8, M 16 (K 128), P 32, k 2.
    public static let config = RouterConfig(experts: 8, componentsPerExpert: 16, latentDim: 32, topK: 2)
    /// Tokens routed per measurement.
    public let tokens: Int
    /// Encoder hidden width H (encoder D -> H -> P, decoder mirrored).
    public let hidden: Int
    /// Tokens per routed block.
    public let blockSize: Int

    /// A benchmark routing `tokens` tokens in blocks of `blockSize` through routers with encoder width `hidden`.
    public init(tokens: Int, hidden: Int, blockSize: Int) {
        self.tokens = tokens
        self.hidden = hidden
        self.blockSize = blockSize
    }

    /// One measured row: a width on a number of workers.
    public struct Row {
        /// Hidden width D.
        public var width: Int
        /// Routing workers.
        public var threads: Int
        /// Tokens per second routing all the tokens.
        public var tokensPerSecond: Double
        /// Tokens per second routing a quarter of them.
        public var quarterTokensPerSecond: Double
        /// Tokens per second routing half of them.
        public var halfTokensPerSecond: Double
        /// GEMM FLOPs per second of the full routing (GFLOP/s).
        public var gflops: Double
        /// The sgemm peak on the same threads (GFLOP/s, 1024^3).
        public var sgemmPeak: Double
    }

    /// Measures width `d` on each of `threadCounts` workers; `row` is called as each row is done.
    public func measure(width d: Int, threadCounts: [Int], row: (Row) throws -> Void) throws {
        var rng = SeededGenerator(seed: 1)
        let router = try IDARouter(config: Self.config, hiddenDim: d, hidden: [hidden], rng: &rng)
        let pool = Self.randomBlock(rows: min(blockSize, tokens), cols: d, seed: 2)
        // Encoder GEMMs in float, the two GMM GEMMs in double: FLOPs per token.
        let flops = Double(2 * d * hidden + 2 * hidden * 32 + 2 * 2 * 128 * 32)
        for threads in threadCounts {
            // The peak is one big GEMM split by rows over the workers; routing spreads blocks over
            // the workers, each single-threaded, as `idamoe route` does.
            let peak = GEMMPeaks.sgemm(threads: threads)
            _ = Self.route(router, pool, tokens: min(tokens, blockSize), workers: threads)  // warm-up
            let full = Self.route(router, pool, tokens: tokens, workers: threads)
            let quarter = Self.route(router, pool, tokens: max(1, tokens / 4), workers: threads)
            let half = Self.route(router, pool, tokens: max(1, tokens / 2), workers: threads)
            try row(Row(width: d, threads: threads, tokensPerSecond: full, quarterTokensPerSecond: quarter,
                        halfTokensPerSecond: half, gflops: flops * full / 1e9, sgemmPeak: peak))
        }
    }

    /// Tokens per second routing `tokens` tokens in blocks cycled from `pool`, spread over `workers` threads.
    public static func route(_ router: IDARouter, _ pool: Matrix, tokens: Int, workers: Int) -> Double {
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

    /// A block of `rows` x `cols` standard normal values, deterministic in `seed`.
    public static func randomBlock(rows: Int, cols: Int, seed: UInt64) -> Matrix {
        var rng = SeededGenerator(seed: seed)
        var m = Matrix(rows: rows, cols: cols)
        for i in m.data.indices { m.data[i] = rng.normal() }
        return m
    }
}
