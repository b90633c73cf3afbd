import IdaNumerics
import IdaTestSupport
import Testing

@Suite("Reactivation: back-off and split re-seeding")
struct ReactivationBackoffTests {
    /// A mixture of K 4 components over P 2 latents, component 3 starved (prior e^-20 of the rest).
    func mixture() -> DiagonalGMM {
        var gmm = DiagonalGMM(logits: [0, 0, 0, -20], means: Matrix(rows: 4, cols: 2), logVars: Matrix(rows: 4, cols: 2),
                              logVarMin: -6, logVarMax: 6)
        for k in 0..<4 { for j in 0..<2 { gmm.means[k, j] = Float(k); gmm.logVars[k, j] = Float(k) * 0.1 - 0.2 } }
        return gmm
    }

    /// A batch of 12 tokens whose most probable components are `top`, latents r * (1, -1) for row r.
    func batch(_ top: [Int32]) -> RoutingResult {
        let n = top.count
        let z = Matrix(rows: n, cols: 2, data: (0..<n).flatMap { [Float($0), -Float($0)] })
        return RoutingResult(tokens: n, topK: 1, experts: 4, selected: top, weights: [Float](repeating: 1, count: n),
                             expertProbabilities: [], posterior: [], posteriorWidth: 4, entropyBits: [],
                             logDensity: (0..<n).map { -Double($0) }, topComponent: top, latents: z, reconstructionError: nil)
    }

    @Test("a component that never comes back is moved at checks 1, 2, 4, 8, then every 8; reviving clears the count")
    func backoff() {
        var gmm = mixture()
        var state = ReactivationState(components: 4, config: ReactivationConfig(mode: .reset, every: 1), seed: 3)
        let starved = batch([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2])
        var resets: [Int] = []
        for step in 1...30 {
            let events = state.observe(step: step, result: starved, gmm: &gmm, componentsPerExpert: 1)
            if events.contains(where: { $0.kind == .reset && $0.component == 3 }) { resets.append(step) }
            gmm.logits[3] = -20  // the fit starves it again at once
        }
        #expect(resets == [1, 2, 4, 8, 16, 24])
        #expect(state.attempts[3] == 6)
        // It wins tokens again: revived, the count cleared; dying again starts the back-off afresh.
        var revived = false
        for step in 31...40 where !revived {
            revived = state.observe(step: step, result: batch([Int32](repeating: 3, count: 12)), gmm: &gmm,
                                    componentsPerExpert: 1).contains { $0.kind == .revived && $0.component == 3 }
        }
        #expect(revived)
        #expect(state.attempts[3] == 0 && state.wait[3] == 0)
    }

    @Test("split: the dead component takes a token of the busiest component and that component's variances")
    func split() {
        var gmm = mixture()
        var state = ReactivationState(components: 4, config: ReactivationConfig(mode: .reset, every: 1, reseed: .split), seed: 5)
        // Component 1 wins rows 1, 4, 5, 7, 9 and 11, more than any other.
        let top: [Int32] = [0, 1, 2, 0, 1, 1, 2, 1, 0, 1, 2, 1]
        let events = state.observe(step: 1, result: batch(top), gmm: &gmm, componentsPerExpert: 1)
        #expect(events.contains { $0.kind == .reset && $0.component == 3 })
        let row = Int(gmm.means[3, 0])
        #expect([1, 4, 5, 7, 9, 11].contains(row), "target row \(row)")
        #expect(gmm.means[3, 1] == -Float(row))
        #expect(gmm.logVars[3, 0] == gmm.logVars[1, 0] && gmm.logVars[3, 1] == gmm.logVars[1, 1])
        #expect(gmm.logits[3] == Float(-20.0 / 4))  // the mean logit, as before
    }
}
