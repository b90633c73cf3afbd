import Foundation

extension IDARouter {
    /// Routing decisions from the mixture's log-joints in one pass per token row.
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
        // The pass's tensors, pinned together for the row loop (`withPinned`); shapes on the pointers.
        let joint = PinnedBuffer(logJoint)
        let selected = PinnedMutableBuffer<Int32>(repeating: 0, count: n * top)
        let weights = PinnedMutableBuffer<Float>(repeating: 0, count: n * top)
        let q = PinnedMutableBuffer<Double>(repeating: 0, count: n * e)
        let entropy = PinnedMutableBuffer<Double>(repeating: 0, count: n)
        let logDensity = PinnedMutableBuffer<Double>(repeating: 0, count: n)
        let topComponent = PinnedMutableBuffer<Int32>(repeating: 0, count: n)
        let posterior = PinnedMutableBuffer<Double>(repeating: 0, count: posteriors ? n * k : 0)
        let rankedComponents = PinnedMutableBuffer<Int32>(repeating: -1, count: n * rank)
        let rankedPosteriors = PinnedMutableBuffer<Float>(repeating: 0, count: n * rank)
        let numerators = PinnedMutableBuffer<Float>(repeating: 0, count: k)
        let totals = PinnedMutableBuffer<Double>(repeating: 0, count: e)
        let score = PinnedMutableBuffer<Double>(repeating: 0, count: e)
        let largest = PinnedMutableBuffer<Float>(repeating: 0, count: e)
        let useMax = config.expertScore == .max
        let level = VectorMath.level
        withPinned(joint, selected, weights, q, entropy, logDensity, topComponent, posterior, rankedComponents,
                   rankedPosteriors, numerators, totals, score, largest) {
            guard let logJoint = joint.buffer.baseAddress,         // [N, K] log p(z_n, k)
                  let numerators = numerators.buffer.baseAddress,  // [K] the row's e^(log p - peak)
                  let totals = totals.buffer.baseAddress,          // [E] the row's numerators summed per expert
                  let largest = largest.buffer.baseAddress         // [E] the row's largest numerator per expert
            else { return }
            let score = score.buffer                        // [E] the row's expert scores
            let selected = selected.buffer                  // [N, k] chosen experts, best first
            let weights = weights.buffer                    // [N, k] gate weights
            let q = q.buffer                                // [N, E] expert distribution
            let entropy = entropy.buffer                    // [N] bits
            let logDensity = logDensity.buffer              // [N] log p(z_n)
            let topComponent = topComponent.buffer          // [N] most probable component
            let posterior = posterior.buffer                // [N, K], or empty without `posteriors`
            let rankedComponents = rankedComponents.buffer  // [N, rank]
            let rankedPosteriors = rankedPosteriors.buffer  // [N, rank]
            for r in 0..<n {
                let row = logJoint + r * k
                let peak = VectorMath.maximum(row, count: k, level: level)
                VectorMath.expGroupSums(row, shift: peak, groups: e, size: m, numerators: numerators,
                                        sums: totals, largest: largest, level: level)
                topComponent[r] = Int32(firstAtPeak(row, peak: peak, groups: e, size: m, largest: largest))
                var sum = 0.0
                for x in 0..<e { sum += totals[x] }
                let inv = 1 / sum
                logDensity[r] = peak + Foundation.log(sum)
                for x in 0..<e {
                    let share = totals[x] * inv
                    q[r * e + x] = share
                    score[x] = useMax ? Double(largest[x]) * inv : share
                }
                if posteriors {
                    for c in 0..<k { posterior[r * k + c] = Double(numerators[c]) * inv }
                }
                if rank > 0 {
                    let slots = (r * rank)..<((r + 1) * rank)
                    rankComponents(UnsafeBufferPointer(start: numerators, count: k), scale: inv,
                                   into: UnsafeMutableBufferPointer(rebasing: rankedComponents[slots]),
                                   posteriors: UnsafeMutableBufferPointer(rebasing: rankedPosteriors[slots]))
                }
                let choice = (r * top)..<((r + 1) * top)
                chooseExperts(UnsafeBufferPointer(score), into: UnsafeMutableBufferPointer(rebasing: selected[choice]),
                              weights: UnsafeMutableBufferPointer(rebasing: weights[choice]),
                              temperature: config.gateTemperature)
                entropy[r] = entropyBits(UnsafeBufferPointer(rebasing: q[(r * e)..<((r + 1) * e)]))
            }
        }
        var result = RoutingResult(tokens: n, topK: top, experts: e, selected: selected.take(), weights: weights.take(),
                                   expertProbabilities: q.take(), posterior: posterior.take(), posteriorWidth: k,
                                   entropyBits: entropy.take(), logDensity: logDensity.take(),
                                   topComponent: topComponent.take(), latents: nil, reconstructionError: nil)
        result.ranked = rank
        result.rankedComponents = rankedComponents.take()
        result.rankedPosteriors = rankedPosteriors.take()
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
