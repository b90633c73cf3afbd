import Foundation

/// Where the mixture's means start (`train --mixture-init`).
public enum MixtureInit: String, Sendable, CaseIterable {
    /// K latents of the first batch drawn at random.
    case random
    /// k-means++ seeding on those latents: each next mean drawn with probability proportional to its
    /// squared distance from the nearest mean chosen so far, so the components start spread out.
    case kmeansPlusPlus = "kmeans++"
}

extension MixtureInit: NamedChoice {}

extension IDARouter {
    /// Places the mixture on real data before training: component means on K latents drawn (without
    /// replacement while possible) from the batch h [N, D], log-variances at the per-feature latent
    /// variance, equal priors. Without this, randomly placed means leave most components far from every
    /// latent, and a few components (so a few experts) take all tokens from the first step.
    /// With `seeding` .kmeansPlusPlus the means are k-means++ seeds of those latents instead.
    public mutating func initializeMixture(from h: Matrix, rng: inout SeededGenerator, seeding: MixtureInit = .random) {
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
        let chosen = seeding == .kmeansPlusPlus ? Self.kMeansPlusPlus(z, count: k, rng: &rng) : Self.randomRows(n, count: k, rng: &rng)
        for c in 0..<k {
            let row = chosen[c]
            for j in 0..<p {
                gmm.means[c, j] = z[row, j]
                let s = Float(Foundation.log(variance[j]))
                gmm.logVars[c, j] = min(max(s, config.logVarMin), config.logVarMax)
            }
            gmm.logits[c] = 0
        }
    }

    /// `count` row indices of 0..<n, without replacement while possible (reshuffled every n).
    static func randomRows(_ n: Int, count: Int, rng: inout SeededGenerator) -> [Int] {
        var rows = Array(0..<n), out: [Int] = []
        for c in 0..<count {
            if c % n == 0 { rows.shuffle(using: &rng) }
            out.append(rows[c % n])
        }
        return out
    }

    /// k-means++ seeds: the first row at random, each next with probability proportional to its squared
    /// distance (double) to the nearest row chosen so far; once every row is at distance 0 (fewer
    /// distinct latents than components), the rest are drawn at random.
    static func kMeansPlusPlus(_ z: Matrix, count: Int, rng: inout SeededGenerator) -> [Int] {
        let n = z.rows, p = z.cols
        guard n > 0, count > 0 else { return [] }
        var nearest = [Double](repeating: .infinity, count: n)
        var chosen: [Int] = [Int(rng.next() % UInt64(n))]
        while chosen.count < count {
            let last = chosen[chosen.count - 1]
            var total = 0.0
            for r in 0..<n {
                var d = 0.0
                for j in 0..<p {
                    let diff = Double(z[r, j]) - Double(z[last, j])
                    d += diff * diff
                }
                nearest[r] = min(nearest[r], d)
                total += nearest[r]
            }
            guard total > 0 else {
                chosen += randomRows(n, count: count - chosen.count, rng: &rng)
                break
            }
            let target = Double(rng.next() >> 11) / Double(1 << 53) * total
            var running = 0.0, pick = n - 1
            for r in 0..<n {
                running += nearest[r]
                if running > target, nearest[r] > 0 { pick = r; break }
            }
            chosen.append(pick)
        }
        return chosen
    }
}
