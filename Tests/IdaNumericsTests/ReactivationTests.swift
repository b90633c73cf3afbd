import Testing
import IdaNumerics
import IdaTestSupport

@Suite("Dead-component detection and reactivation")
struct ReactivationTests {
    /// Four components (E = 2, M = 2) in 2-d; component 3 sits far away with a tiny prior.
    func setup() throws -> (IDARouter, Matrix) {
        let router = try identityRouter(means: [[0, 0], [2, 0], [0, 2], [40, 40]], logits: [0, 0, 0, -20],
                                        experts: 2, perExpert: 2)
        var h = randomMatrix(rows: 16, cols: 2, scale: 0.5, seed: 8)
        h[15, 0] = -30  // one token nothing explains well: it should become the target
        h[15, 1] = -30
        return (router, h)
    }

    @Test("a starved component dies at the check, gets the worst-explained latent as target, and revives")
    func lifecycle() throws {
        var (router, h) = try setup()
        var state = ReactivationState(components: 4, config: ReactivationConfig(mode: .loss, every: 10, steps: 5,
                                                                                 tau: 0.1, usageDecay: 0.5))
        var events: [ReactivationEvent] = []
        for step in 1...10 {
            let result = router.route(h, keepLatents: true)
            events += state.observe(step: step, result: result, gmm: &router.gmm, componentsPerExpert: 2)
        }
        // Died, then the intervention on it: two events, the second saying what was done.
        #expect(events.map(\.kind) == [.died, .pulled])
        #expect(events.allSatisfy { $0.component == 3 && $0.expert == 1 })
        #expect(state.dead == [false, false, false, true])
        #expect(state.targets[3] == [-30, -30])
        #expect(state.remaining[3] == 5)

        // L_react alone pulls the mean toward the target and the logit toward mean(a).
        let before = router.gmm.means[3, 0]
        router.gmm.zeroGrad()
        let loss = state.accumulateLoss(gmm: &router.gmm, weight: 1)
        // mean_j (40 - (-30))^2 + (-20 - mean a)^2 with mean a = -5
        #expect(abs(loss - (4900 + 225)) < 1e-6)
        #expect(router.gmm.gradMeans[3, 0] == 70)  // 2 * 70 / P
        #expect(router.gmm.gradLogits[3] == -30)   // 2 * (-20 + 5)
        #expect(router.gmm.gradMeans[0, 0] == 0)
        router.gmm.means[3, 0] -= 0.1 * router.gmm.gradMeans[3, 0]
        #expect(abs(router.gmm.means[3, 0] - (-30)) < abs(before - (-30)))

        // Prior mass alone is not use: with its prior back but still winning no token it stays dead
        // and, its pull having run out, is pulled again.
        router.gmm.logits[3] = 0
        for step in 11...20 {
            let result = router.route(h, keepLatents: true)
            events += state.observe(step: step, result: result, gmm: &router.gmm, componentsPerExpert: 2)
        }
        #expect(events.map(\.kind) == [.died, .pulled, .pulled])
        #expect(state.dead[3])

        // Once it wins tokens again (its mean moved onto a cluster of them), its usage rises above
        // tau/K and the next check reports it revived and stops its pull.
        router.gmm.means[3, 0] = -30
        router.gmm.means[3, 1] = -30
        for r in 12..<16 { h[r, 0] = -30; h[r, 1] = -30 }
        for step in 21...30 {
            let result = router.route(h, keepLatents: true)
            events += state.observe(step: step, result: result, gmm: &router.gmm, componentsPerExpert: 2)
        }
        #expect(events.last?.kind == .revived)
        #expect(events.last?.component == 3)
        #expect(state.deadCount == 0)
        #expect(state.remaining[3] == 0)
    }

    @Test("usage starts from the first observed batch, so a check finds a starved component at once")
    func usageFromFirstBatch() throws {
        var (router, h) = try setup()
        var state = ReactivationState(components: 4, config: ReactivationConfig(mode: .off, every: 1, steps: 5,
                                                                                 tau: 0.1, usageDecay: 0.99))
        #expect(!state.observed)
        let events = state.observe(step: 1, result: router.route(h, keepLatents: true), gmm: &router.gmm,
                                   componentsPerExpert: 2)
        #expect(state.observed)
        #expect(state.usage[3] == 0 && abs(state.usage.reduce(0, +) - 1) < 1e-12)
        // With a 1/K start and decay 0.99 the usage of component 3 would stay above 0.1/K for ~230 steps.
        #expect(events.map(\.kind) == [.died] && events.first?.component == 3)
    }

    @Test("reset mode moves the component onto the target at once")
    func resetMode() throws {
        var (router, h) = try setup()
        router.gmm.logVars[0, 0] = 1
        var state = ReactivationState(components: 4, config: ReactivationConfig(mode: .reset, every: 5, steps: 5,
                                                                                 tau: 0.1, usageDecay: 0.1))
        var events: [ReactivationEvent] = []
        for step in 1...5 {
            events += state.observe(step: step, result: router.route(h, keepLatents: true), gmm: &router.gmm, componentsPerExpert: 2)
        }
        #expect(events.map(\.kind) == [.died, .reset])
        #expect(router.gmm.means[3, 0] == -30 && router.gmm.means[3, 1] == -30)
        #expect(router.gmm.logits[3] == -5)           // mean of [0, 0, 0, -20]
        #expect(router.gmm.logVars[3, 0] == 0.25)     // mean over components of feature 0's log-variances
        #expect(state.remaining[3] == 0)
    }

    @Test("pool re-seeding: the target is a worst-explained latent of the recent batches, the pool keeps four batches")
    func poolReseed() throws {
        var (router, _) = try setup()
        var state = ReactivationState(components: 4, config: ReactivationConfig(mode: .reset, every: 5, steps: 5, tau: 0.1,
                                                                                 usageDecay: 0.1, reseed: .pool))
        var worst: [[Float]] = []
        var events: [ReactivationEvent] = []
        for step in 1...5 {
            // 20 tokens a batch: the pool takes the worst-explained 2 of each (lowest log p(z)).
            var h = randomMatrix(rows: 20, cols: 2, scale: 0.5, seed: UInt64(20 + step))
            h[3, 0] = Float(-10 - step)
            h[3, 1] = 10
            h[7, 0] = 10
            h[7, 1] = Float(-20 - step)
            let result = router.route(h, keepLatents: true)
            if step > 1 { worst += [[h[3, 0], h[3, 1]], [h[7, 0], h[7, 1]]] }
            events += state.observe(step: step, result: result, gmm: &router.gmm, componentsPerExpert: 2)
        }
        #expect(events.map(\.kind) == [.died, .reset])
        #expect(state.pool.count == 8, "four batches of two")
        #expect(Set(state.pool.map { $0.map(Double.init) }) == Set(worst.map { $0.map(Double.init) }))
        let mean = [router.gmm.means[3, 0], router.gmm.means[3, 1]]
        #expect(worst.contains(mean), "component 3 moved onto a pooled latent, got \(mean)")
    }

    @Test("off mode reports but does not touch the mixture")
    func offMode() throws {
        var (router, h) = try setup()
        let original = router.gmm
        var state = ReactivationState(components: 4, config: ReactivationConfig(mode: .off, every: 5, steps: 5,
                                                                                 tau: 0.1, usageDecay: 0.1))
        var events: [ReactivationEvent] = []
        for step in 1...5 {
            events += state.observe(step: step, result: router.route(h, keepLatents: true), gmm: &router.gmm, componentsPerExpert: 2)
        }
        #expect(events.map(\.component) == [3])
        #expect(router.gmm == original)
        #expect(state.targets[3].isEmpty)
    }
}
