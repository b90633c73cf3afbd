import Foundation

extension IDARouter {
    /// Routing decisions from the mixture's log-joints in one pass per token row (issue 13).
    ///
    /// `logJoint` [N, K] holds log p(z_n, k) from `DiagonalGMM.logJoint` (double, where the
    /// expansion cancels; docs/decisions.md). The row pass takes the row's maximum, then the shifted
    /// exponentials in float (`VectorMath.expShifted` over doubles: every argument is at most 0 after
    /// the shift, so float keeps about 7 digits of each numerator) with their sums per expert in
    /// double, the most probable component, and the sum over the row. q, the expert scores, the top-k choice, the
    /// gate weights, log p(z) and the entropy all come from those sums. The N x K posteriors are
    /// written only when `posteriors` is true (`idamoe route --posterior`); the decisions do not
    /// depend on it. `rank` > 0 ranks each token's `rank` most probable components from the same
    /// numerators (`RoutingResult.rankedComponents`), for callers that need those but not all K.
    /// Rows are independent, so results do not depend on how tokens are blocked (docs/decisions.md,
    /// "Determinism").
    func decide(logJoint: consuming [Double], tokens n: Int, posteriors: Bool, rank: Int = 0) -> RoutingResult {
        let k = config.components, e = config.experts, m = config.componentsPerExpert
        let top = config.topK
        precondition(logJoint.count == n * k && e * m == k, "decide: shapes differ")
        let logJoint = logJoint
        var selected = [Int32](repeating: 0, count: n * top)
        var weights = [Float](repeating: 0, count: n * top)
        var q = [Double](repeating: 0, count: n * e)
        var entropy = [Double](repeating: 0, count: n)
        var logDensity = [Double](repeating: 0, count: n)
        var topComponent = [Int32](repeating: 0, count: n)
        var posterior = posteriors ? [Double](repeating: 0, count: n * k) : []
        var rankedComponents = [Int32](repeating: -1, count: n * rank)
        var rankedPosteriors = [Float](repeating: 0, count: n * rank)
        var numerators = [Float](repeating: 0, count: k)  // [K] for one row
        var totals = [Double](repeating: 0, count: e)     // [E] sum of the row's numerators per expert
        var score = [Double](repeating: 0, count: e)      // [E]
        var largest = [Float](repeating: 0, count: e)     // [E] the row's largest numerator per expert
        let useMax = config.expertScore == .max
        let level = VectorMath.level
        logJoint.withUnsafeBufferPointer { lj in
        numerators.withUnsafeMutableBufferPointer { num in
        totals.withUnsafeMutableBufferPointer { tot in
        score.withUnsafeMutableBufferPointer { g in
        q.withUnsafeMutableBufferPointer { pq in
        posterior.withUnsafeMutableBufferPointer { post in
        selected.withUnsafeMutableBufferPointer { sel in
        weights.withUnsafeMutableBufferPointer { pw in
        largest.withUnsafeMutableBufferPointer { big in
        rankedComponents.withUnsafeMutableBufferPointer { rc in
        rankedPosteriors.withUnsafeMutableBufferPointer { rp in
            guard let row0 = lj.baseAddress, let numbers = num.baseAddress, let totalBase = tot.baseAddress,
                  let largestBase = big.baseAddress else { return }
            for r in 0..<n {
                let row = row0 + r * k
                let peak = VectorMath.maximum(row, count: k, level: level)
                VectorMath.expGroupSums(row, shift: peak, groups: e, size: m, numerators: numbers,
                                        sums: totalBase, largest: largestBase, level: level)
                topComponent[r] = Int32(firstAtPeak(row, peak: peak, groups: e, size: m, largest: largestBase))
                var sum = 0.0
                for x in 0..<e { sum += tot[x] }
                let inv = 1 / sum
                logDensity[r] = peak + Foundation.log(sum)
                for x in 0..<e {
                    let share = tot[x] * inv
                    pq[r * e + x] = share
                    g[x] = useMax ? Double(largestBase[x]) * inv : share
                }
                if posteriors {
                    for c in 0..<k { post[r * k + c] = Double(numbers[c]) * inv }
                }
                if rank > 0 {
                    let slots = (r * rank)..<((r + 1) * rank)
                    rankComponents(UnsafeBufferPointer(start: numbers, count: k), scale: inv,
                                   into: UnsafeMutableBufferPointer(rebasing: rc[slots]),
                                   posteriors: UnsafeMutableBufferPointer(rebasing: rp[slots]))
                }
                chooseExperts(UnsafeBufferPointer(g), into: UnsafeMutableBufferPointer(rebasing: sel[(r * top)..<((r + 1) * top)]),
                              weights: UnsafeMutableBufferPointer(rebasing: pw[(r * top)..<((r + 1) * top)]), temperature: config.gateTemperature)
                entropy[r] = entropyBits(UnsafeBufferPointer(rebasing: pq[(r * e)..<((r + 1) * e)]))
            }
        }
        }
        }
        }
        }
        }
        }
        }
        }
        }
        }
        var result = RoutingResult(tokens: n, topK: top, experts: e, selected: selected, weights: weights,
                             expertProbabilities: q, posterior: posterior, posteriorWidth: k,
                             entropyBits: entropy, logDensity: logDensity, topComponent: topComponent,
                             latents: nil, reconstructionError: nil)
        result.ranked = rank
        result.rankedComponents = rankedComponents
        result.rankedPosteriors = rankedPosteriors
        return result
    }

    /// The first component at the row's maximum (the most probable one; ties to the lower index).
    /// e^0 is exactly 1, so only groups whose largest numerator is at least 1 can hold it and the rest
    /// are skipped; a row without a number at its maximum (all -inf or NaN) falls back to a full scan,
    /// which gives the last component when nothing reaches the maximum.
    @inline(__always)
    private func firstAtPeak(_ row: UnsafePointer<Double>, peak: Double, groups: Int, size: Int,
                             largest: UnsafePointer<Float>) -> Int {
        for g in 0..<groups where largest[g] >= 1 {
            for c in (g * size)..<((g + 1) * size) where row[c] >= peak { return c }
        }
        let k = groups * size
        var best = 0
        while best < k - 1 && !(row[best] >= peak) { best += 1 }
        return best
    }
}
