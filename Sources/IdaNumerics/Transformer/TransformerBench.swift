/// Speed measurements of the transformer blocks (benchmarks, not tests).
public enum TransformerBench {
    /// Tokens per second through `CausalSelfAttention` forward plus backward (including zeroGrad) on
    /// random inputs of B x T tokens of width D with H heads, after one warm-up iteration.
    /// Uses whatever OpenBLAS thread count is set.
    public static func attentionTokensPerSecond(batch: Int, time: Int, width: Int, heads: Int,
                                                iterations: Int) -> Double {
        var rng = SeededGenerator(seed: 2024)
        var attention = CausalSelfAttention(width: width, heads: heads, rng: &rng)
        var x = Matrix(rows: batch * time, cols: width)
        var dy = Matrix(rows: batch * time, cols: width)
        for i in x.data.indices { x.data[i] = rng.normal() }
        for i in dy.data.indices { dy.data[i] = rng.normal() }
        func once() {
            attention.zeroGrad()
            let (_, cache) = attention.forward(x, batch: batch, time: time)
            _ = attention.backward(dy, cache: cache)
        }
        once()
        let runs = max(1, iterations)
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for _ in 0..<runs { once() }
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return Double(batch * time * runs) / max(seconds, 1e-9)
    }
}
