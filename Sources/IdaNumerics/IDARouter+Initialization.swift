import Foundation

extension IDARouter {
    /// Places the mixture on real data before training: component means on K latents drawn (without
    /// replacement while possible) from the batch h [N, D], log-variances at the per-feature latent
    /// variance, equal priors. Without this, randomly placed means leave most components far from every
    /// latent, and a few components (so a few experts) take all tokens from the first step.
    public mutating func initializeMixture(from h: Matrix, rng: inout SeededGenerator) {
        let z = latent(encoder(routerInput(h))).z
        let n = z.rows, p = z.cols, k = gmm.components
        guard n > 0 else { return }
        var variance = [Double](repeating: 0, count: p)
        for j in 0..<p {
            var sum = 0.0, squares = 0.0
            for r in 0..<n {
                let v = Double(z[r, j])
                sum += v
                squares += v * v
            }
            let mean = sum / Double(n)
            variance[j] = max(squares / Double(n) - mean * mean, 1e-6)
        }
        var rows = Array(0..<n)
        for c in 0..<k {
            if c % n == 0 { rows.shuffle(using: &rng) }
            let row = rows[c % n]
            for j in 0..<p {
                gmm.means[c, j] = z[row, j]
                let s = Float(Foundation.log(variance[j]))
                gmm.logVars[c, j] = min(max(s, config.logVarMin), config.logVarMax)
            }
            gmm.logits[c] = 0
        }
    }
}
