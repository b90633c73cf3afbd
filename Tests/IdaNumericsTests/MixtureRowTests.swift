import Foundation
import Testing
import IdaBLAS
import IdaNumerics
import IdaTestSupport
import IdaSystem

/// The row pass of `IDARouter.route`: the double-input exp loops' bounds, the per-expert
/// sums, and the fused decisions against the double-precision `evaluate` + `decide` path.
@Suite("Mixture row pass: float numerators from double log-joints")
struct MixtureRowTests {
    /// Log-values from 0 down to -100 (every normal float result and a few below), shuffled by a stride.
    static let logValues: [Double] = (0..<20_011).map { (i: Int) -> Double in
        let step: Double = Double((i * 7_919) % 20_011) * 0.005
        return -step - 1e-3 * Double(i % 3)
    }

    static func groupSums(_ input: [Double], shift: Double, groups: Int, size: Int,
                          level: VectorLevel) -> (numerators: [Float], sums: [Double], largest: [Float]) {
        var numerators = [Float](repeating: 0, count: groups * size)
        var sums = [Double](repeating: 0, count: groups)
        var largest = [Float](repeating: 0, count: groups)
        input.withUnsafeBufferPointer { i in
            numerators.withUnsafeMutableBufferPointer { n in
                sums.withUnsafeMutableBufferPointer { s in
                    largest.withUnsafeMutableBufferPointer { l in
                        VectorMath.expGroupSums(i.baseAddress!, shift: shift, groups: groups, size: size,
                                                numerators: n.baseAddress!, sums: s.baseAddress!,
                                                largest: l.baseAddress!, level: level)
                    }
                }
            }
        }
        return (numerators, sums, largest)
    }

    @Test("exp of double differences: within 1 ulp plus 6e-8 |x| of e^x, at every level",
          arguments: VectorLevel.runnable(on: .current()))
    func doubleExpBound(level: VectorLevel) {
        let shift = 2.75
        let input = Self.logValues.map { $0 + shift }
        var out = [Float](repeating: 0, count: input.count)
        input.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                VectorMath.expShifted(i.baseAddress!, into: o.baseAddress!, shift: shift, count: i.count, level: level)
            }
        }
        var worst = 0.0
        for (x, got) in zip(Self.logValues, out) {
            let ref = Foundation.exp(x)
            guard ref >= Double(Float.leastNormalMagnitude) else { continue }
            let bound = Double(Float(ref).ulp) + 6e-8 * abs(x) * ref
            worst = max(worst, abs(Double(got) - ref) / bound)
        }
        #expect(worst <= 1, "\(level): \(worst) x the bound")
        // The group loop computes the same numerators, and its sums and maxima are theirs.
        for size in [16, 5, 8, 24] {
            let groups = Self.logValues.count / size
            let (numerators, sums, largest) = Self.groupSums(input, shift: shift, groups: groups, size: size, level: level)
            #expect(numerators == Array(out.prefix(groups * size)), "size \(size) at \(level)")
            for g in 0..<groups {
                let part = numerators[(g * size)..<((g + 1) * size)]
                let exact = part.reduce(0.0) { $0 + Double($1) }
                #expect(abs(sums[g] - exact) <= 1e-15 * exact, "group \(g) of \(size)")
                #expect(largest[g] == part.max())
            }
        }
    }

    @Test("a group's sum does not depend on where the group sits", arguments: VectorLevel.runnable(on: .current()))
    func positionIndependent(level: VectorLevel) {
        let input = Array(Self.logValues.prefix(16 * 9))
        let all = Self.groupSums(input, shift: 0, groups: 9, size: 16, level: level)
        for g in 0..<9 {
            let alone = Self.groupSums(Array(input[(g * 16)..<((g + 1) * 16)]), shift: 0, groups: 1, size: 16, level: level)
            #expect(alone.sums[0].bitPattern == all.sums[g].bitPattern && alone.largest[0] == all.largest[g])
        }
    }

    @Test("maximum of doubles, NaN skipped, at every level", arguments: VectorLevel.runnable(on: .current()))
    func maximum(level: VectorLevel) {
        for count in [1, 7, 8, 9, 2048, 2051] {
            var x = (0..<count).map { -Double(($0 * 37) % 101) }
            x[count / 2] = 3.5
            if count > 2 { x[1] = .nan }
            let got = x.withUnsafeBufferPointer { VectorMath.maximum($0.baseAddress!, count: count, level: level) }
            #expect(got == 3.5, "count \(count)")
        }
    }

    /// A random router with `perExpert` components per expert, routing tokens at `scale`.
    static func router(perExpert: Int, score: ExpertScore) throws -> IDARouter {
        let config = RouterConfig(experts: 8, componentsPerExpert: perExpert, latentDim: 6, topK: 2,
                                  activation: .gelu, expertScore: score, inputNorm: .none,
                                  logVarMin: -8, logVarMax: 6)
        var rng = SeededGenerator(seed: 13)
        var router = try IDARouter(config: config, hiddenDim: 12, hidden: [10], rng: &rng)
        for i in router.gmm.logVars.data.indices { router.gmm.logVars.data[i] = 2 * rng.normal() - 1 }
        for i in router.gmm.logits.indices { router.gmm.logits[i] = rng.normal() }
        return router
    }

    @Test("the fused route agrees with evaluate + decide in double; --posterior changes nothing else",
          arguments: [(16, ExpertScore.max), (5, .max), (8, .sum), (3, .sum)])
    func fusedAgreesWithDouble(perExpert: Int, score: ExpertScore) throws {
        let router = try Self.router(perExpert: perExpert, score: score)
        let h = randomMatrix(rows: 300, cols: 12, scale: 3, seed: 5)
        let fused = router.route(h, keepLatents: true)
        let z = try #require(fused.latents)
        let reference = router.decide(router.gmm.evaluate(z))
        let m = perExpert
        #expect(choicesDifferingAwayFromTies(reference, fused, componentsPerExpert: m, sumScores: score == .sum).isEmpty)
        // Float numerators: log p(z) within about 2e-7 (absolute) of the double path.
        #expect(checkTensor("log p(z)", fused.logDensity ?? [], reference.logDensity ?? [], rtol: 0, atol: 5e-7).ok)
        #expect(checkTensor("posterior", fused.posterior, reference.posterior, rtol: 1e-6, atol: 1e-12).ok)
        #expect(checkTensor("q", fused.expertProbabilities, reference.expertProbabilities, rtol: 1e-6, atol: 1e-12).ok)
        #expect(checkTensor("entropy", fused.entropyBits, reference.entropyBits, rtol: 1e-5, atol: 1e-7).ok)
        for n in 0..<300 where fused.selected[(2 * n)..<(2 * n + 2)] == reference.selected[(2 * n)..<(2 * n + 2)] {
            for j in 0..<2 { #expect(abs(fused.weights[2 * n + j] - reference.weights[2 * n + j]) <= 1e-6) }
        }
        let slim = router.route(h, posteriors: false)
        #expect(slim.posterior.isEmpty)
        #expect(slim.selected == fused.selected && slim.weights == fused.weights && slim.topComponent == fused.topComponent)
        #expect(slim.logDensity == fused.logDensity && slim.expertProbabilities == fused.expertProbabilities
                && slim.entropyBits == fused.entropyBits)
        let mixture = router.gmm.jointTerms()
        let prepared = router.route(h, posteriors: false, mixture: mixture)
        #expect(prepared.selected == slim.selected && prepared.logDensity == slim.logDensity)
    }

    @Test("components ranked by the row pass equal those ranked from the posteriors, -1 past K; rows and concatenation keep them",
          arguments: [(5, 3), (1, 10)])
    func rankedComponents(perExpert: Int, count: Int) throws {
        let router = try Self.router(perExpert: perExpert, score: .max)
        let h = randomMatrix(rows: 300, cols: 12, scale: 3, seed: 7)
        let full = router.route(h)
        let ranked = router.route(h, posteriors: false, rankComponents: count)
        let reference = full.rankingComponents(count)
        #expect(ranked.posterior.isEmpty && ranked.selected == full.selected && ranked.ranked == count)
        #expect(ranked.rankedComponents == reference.rankedComponents && ranked.rankedPosteriors == reference.rankedPosteriors)
        #expect(ranked.rankedComponents.count == 300 * count)
        // The first is the most probable component; past K the slots hold -1 with posterior 0.
        let k = router.config.components
        for t in 0..<300 {
            #expect(ranked.rankedComponents[t * count] == full.topComponent?[t])
            for j in 0..<count where j >= k { #expect(ranked.rankedComponents[t * count + j] == -1 && ranked.rankedPosteriors[t * count + j] == 0) }
        }
        let joined = RoutingResult.concatenated([ranked.rows(0..<100), ranked.rows(100..<300)])
        #expect(joined.rankedComponents == ranked.rankedComponents && joined.rankedPosteriors == ranked.rankedPosteriors)
    }
}
