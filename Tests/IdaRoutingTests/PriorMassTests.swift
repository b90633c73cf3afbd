import Foundation
import IdaFormats
import IdaNumerics
import IdaRouting
import IdaTestSupport
import Testing

@Suite("IDA prior mass: idamoe.prior_mass")
struct PriorMassTests {
    /// A mixture of E 3 x M 2 with the given logits and prior groups (means and variances irrelevant).
    func mixture(_ logits: [Float], groups: Int) -> DiagonalGMM {
        DiagonalGMM(logits: logits, means: Matrix(rows: logits.count, cols: 2), logVars: Matrix(rows: logits.count, cols: 2),
                    logVarMin: -6, logVarMax: 6, priorGroups: groups)
    }

    @Test("per expert: a softmax within each expert's components, each expert holding exactly 1/E")
    func knownValues() {
        let logits: [Float] = [0, Float(log(3.0)), 5, 5, -2, 9]
        let per = mixture(logits, groups: 3).priors
        let three = exp(Double(logits[1]))  // 3 to float precision
        let expected = [1 / (1 + three) / 3, three / (1 + three) / 3, 0.5 / 3, 0.5 / 3, 1 / (1 + exp(11.0)) / 3, exp(11.0) / (1 + exp(11.0)) / 3]
        for (a, b) in zip(per, expected) { #expect(abs(a - b) < 1e-12, "\(per)") }
        for e in 0..<3 { #expect(abs(per[2 * e] + per[2 * e + 1] - 1.0 / 3) < 1e-15) }
        // The global prior of the same logits: expert 2 holds nearly everything.
        let global = mixture(logits, groups: 1).priors
        #expect(global[4] + global[5] > 0.96)
        #expect(abs(global.reduce(0, +) - 1) < 1e-12)
    }

    @Test("the density under a per-expert prior is the mixture with those weights")
    func density() {
        var gmm = mixture([0.3, -1, 2, 0.5, 0, 1.5], groups: 3)
        for k in 0..<6 { for j in 0..<2 { gmm.means[k, j] = Float(k) * 0.5 - Float(j); gmm.logVars[k, j] = 0.1 * Float(k - j) } }
        let z = Matrix(rows: 2, cols: 2, data: [0.4, -0.2, 1.5, 0.7])
        let ev = gmm.evaluate(z)
        let pi = gmm.priors
        for n in 0..<2 {
            var total = 0.0
            for k in 0..<6 {
                var logN = 0.0
                for j in 0..<2 {
                    let s = Double(gmm.logVars[k, j]), d = Double(z[n, j]) - Double(gmm.means[k, j])
                    logN += -0.5 * (d * d * exp(-s) + s + log(2 * Double.pi))
                }
                total += pi[k] * exp(logN)
            }
            #expect(abs(ev.logDensity[n] - log(total)) < 1e-6)  // float numerators (evaluate's comment)
        }
    }

    @Test("checkpoints say which: written for IDA, read back, routed with; absent reads global")
    func roundTrip() throws {
        var ck = try makeIDACheckpoint()
        #expect(ck.info.metadata["idamoe.prior_mass"] == "global")
        ck.info.config.priorMass = .perExpert
        #expect(ck.info.metadata["idamoe.prior_mass"] == "per-expert")
        let path = try writeCheckpoint(ck)
        let loaded = try RouterCheckpoint(path: path)
        #expect(loaded.info.config.priorMass == .perExpert)
        guard case let .ida(router)? = loaded.routers[1] else {
            Issue.record("no IDA router")
            return
        }
        #expect(router.gmm.priorGroups == 3)
        for e in 0..<3 { #expect(abs(router.gmm.priors[2 * e] + router.gmm.priors[2 * e + 1] - 1.0 / 3) < 1e-12) }
        let absent = try RouterCheckpoint(path: writeCheckpoint(makeIDACheckpoint(), metadata: ["idamoe.prior_mass": nil]))
        #expect(absent.info.config.priorMass == .global)
        guard case let .ida(global)? = absent.routers[1] else { return }
        #expect(global.gmm.priorGroups == 1)
    }

    @Test("an unknown prior mass is a one-line error naming the key and the allowed values")
    func refusal() throws {
        let path = try writeCheckpoint(makeIDACheckpoint(), metadata: ["idamoe.prior_mass": "per_layer"])
        do {
            _ = try RouterCheckpoint(path: path)
            Issue.record("prior mass per_layer was accepted")
        } catch {
            let text = String(describing: error)
            #expect(text.contains("idamoe.prior_mass") && text.contains("per-expert") && !text.contains("\n"), "\(text)")
        }
    }

    @Test("a reset under a per-expert prior gives the component its expert's mean logit")
    func resetTarget() throws {
        var gmm = mixture([4, -9, 0, 1, 2, 3], groups: 3)
        for k in 0..<6 { for j in 0..<2 { gmm.means[k, j] = Float(k) } }
        var state = ReactivationState(components: 6, config: ReactivationConfig(mode: .reset, every: 1))
        // Every token in component 0: component 1 (prior 1.5e-6 / 3, usage 0) is dead.
        let n = 8
        let latents = Matrix(rows: n, cols: 2, data: (0..<(2 * n)).map { Float($0 % 3) * 0.01 })
        let result = RoutingResult(tokens: n, topK: 1, experts: 3, selected: [Int32](repeating: 0, count: n),
                                   weights: [Float](repeating: 1, count: n), expertProbabilities: [], posterior: [],
                                   posteriorWidth: 6, entropyBits: [], logDensity: (0..<n).map { -Double($0) },
                                   topComponent: [Int32](repeating: 0, count: n), latents: latents, reconstructionError: nil)
        let events = state.observe(step: 1, result: result, gmm: &gmm, componentsPerExpert: 2)
        #expect(events.contains { $0.kind == .reset && $0.component == 1 })
        #expect(gmm.logits[1] == -2.5)  // (4 + -9) / 2, expert 0's mean before the reset
        #expect(abs(gmm.priors[0] + gmm.priors[1] - 1.0 / 3) < 1e-12)
    }

    @Test("under a per-expert prior an unused expert's components are dead on usage alone; globally they need a low prior too")
    func deadOnUsage() throws {
        for groups in [1, 3] {
            // Equal logits: every prior is 1/6 whatever the groups; only components 0-3 win tokens.
            var gmm = mixture([0, 0, 0, 0, 0, 0], groups: groups)
            var state = ReactivationState(components: 6, config: ReactivationConfig(mode: .off, every: 1))
            let n = 8
            let top = (0..<n).map { Int32($0 % 4) }
            let result = RoutingResult(tokens: n, topK: 1, experts: 3, selected: top, weights: [Float](repeating: 1, count: n),
                                       expertProbabilities: [], posterior: [], posteriorWidth: 6, entropyBits: [],
                                       logDensity: nil, topComponent: top, latents: nil, reconstructionError: nil)
            let died = state.observe(step: 1, result: result, gmm: &gmm, componentsPerExpert: 2).filter { $0.kind == .died }.map(\.component)
            #expect(died == (groups == 3 ? [4, 5] : []), "groups \(groups): \(died)")
        }
    }
}
