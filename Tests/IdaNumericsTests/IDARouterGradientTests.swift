import Testing
import IdaNumerics
import IdaTestSupport

/// A tiny router: D = 6, encoder 6 -> 5 -> 3, E = 3, M = 2 (K = 6), P = 3.
func tinyRouter(activation: Activation = .gelu, inputNorm: InputNorm = .rms, latentNorm: InputNorm = .none,
                expertScore: ExpertScore = .max, priorMass: PriorMass = .global, seed: UInt64 = 7) throws -> IDARouter {
    var rng = SeededGenerator(seed: seed)
    let config = RouterConfig(experts: 3, componentsPerExpert: 2, latentDim: 3, topK: 2,
                              activation: activation, expertScore: expertScore, inputNorm: inputNorm,
                              latentNorm: latentNorm, logVarMin: -4, logVarMax: 4, priorMass: priorMass)
    var router = try IDARouter(config: config, hiddenDim: 6, hidden: [5], rng: &rng)
    // Spread priors and variances so every term of the gradient is exercised (all inside the clamp).
    for k in 0..<6 {
        router.gmm.logits[k] = 0.3 * Float(k) - 0.7
        for j in 0..<3 { router.gmm.logVars[k, j] = 0.4 * rng.normal() }
    }
    return router
}

/// Reads one named parameter's values.
func parameter(_ router: IDARouter, _ name: String) -> [Float] {
    var copy = router
    var found: [Float] = []
    copy.visitParameters { n, _, value, _ in if n == name { found = value } }
    return found
}

/// The gradient of one named parameter.
func parameter(gradientsOf router: IDARouter, _ name: String) -> [Float] {
    var copy = router
    var found: [Float] = []
    copy.visitParameters { n, _, _, grad in if n == name { found = grad } }
    return found
}

/// A copy of `router` with one named parameter replaced.
func replacing(_ router: IDARouter, _ name: String, with values: [Float]) -> IDARouter {
    var copy = router
    copy.visitParameters { n, _, value, _ in if n == name { value = values } }
    return copy
}

@Suite("IDA router backward vs finite differences")
struct IDARouterGradientTests {
    func checkAllParameters(_ router: IDARouter, reactivation: ReactivationState?,
                            weights: RouterLossWeights, epsilon: Float = 1e-2) {
        let h = randomMatrix(rows: 7, cols: 6, scale: 1.5, seed: 11)
        var analytic = router
        analytic.zeroGrad()
        _ = analytic.trainStep(h, weights: weights, reactivation: reactivation)
        var names: [String] = []
        var grads: [String: [Float]] = [:]
        analytic.visitParameters { name, _, _, grad in
            names.append(name)
            grads[name] = grad
        }
        #expect(names.count == 4 + 4 + 3)
        // L_react holds its group's mean logit fixed (stop-gradient); finite differences move it, adding
        // -(2 lambda / |g|) sum over pulled k in group g of (a_k - mean_g a) to the derivative of every
        // logit of g (one group of all K with a global prior, an expert's M per expert).
        var meanTermShift = [Double](repeating: 0, count: router.gmm.components)
        if let state = reactivation {
            let gmm = router.gmm
            for k in 0..<gmm.components where state.remaining[k] > 0 {
                let group = gmm.priorGroupRange(gmm.priorGroup(ofComponent: k))
                let shift = weights.reactivation * 2 * (Double(gmm.logits[k]) - gmm.meanGroupLogit(ofComponent: k)) / Double(group.count)
                for j in group { meanTermShift[j] -= shift }
            }
        }
        for name in names {
            var numeric = finiteDifferences(parameter(router, name), epsilon: epsilon) { values in
                var probe = replacing(router, name, with: values)
                return probe.trainStep(h, weights: weights, reactivation: reactivation).1.total
            }
            if name == "gmm.logits" { numeric = zip(numeric, meanTermShift).map { $0 - $1 } }
            let check = checkTensor(name, grads[name] ?? [], numeric.map(Float.init), rtol: 2e-2, atol: 2e-3)
            #expect(check.ok, "\(check)")
        }
    }

    @Test("NLL + reconstruction, every activation", arguments: Activation.allCases)
    func nllAndReconstruction(activation: Activation) throws {
        let router = try tinyRouter(activation: activation)
        checkAllParameters(router, reactivation: nil,
                           weights: RouterLossWeights(reconstruction: 0.7, reactivation: 0, nllToEncoder: true))
    }

    @Test("per-expert prior mass: every parameter, with and without a reactivation pull",
          arguments: [false, true])
    func perExpertPriorMass(pull: Bool) throws {
        let router = try tinyRouter(priorMass: .perExpert)
        #expect(router.gmm.priorGroups == 3)
        var state = ReactivationState(components: 6)
        state.targets[2] = [0.5, -1, 2]
        state.remaining[2] = 3
        state.targets[5] = [1, 1, -1]
        state.remaining[5] = 1
        checkAllParameters(router, reactivation: pull ? state : nil,
                           weights: RouterLossWeights(reconstruction: 0.7, reactivation: pull ? 0.5 : 0, nllToEncoder: true))
    }

    @Test("with RMS-normalised latents")
    func latentNorm() throws {
        let router = try tinyRouter(latentNorm: .rms)
        // The normalisation bends the loss more sharply, so a smaller step for the differences.
        checkAllParameters(router, reactivation: nil,
                           weights: RouterLossWeights(reconstruction: 0.7, reactivation: 0, nllToEncoder: true),
                           epsilon: 2e-3)
        // Every latent has RMS 1.
        let h = randomMatrix(rows: 5, cols: 6, scale: 3, seed: 3)
        let z = try #require(router.route(h, keepLatents: true).latents)
        for r in 0..<5 {
            let ms = (0..<3).reduce(Float(0)) { $0 + z[r, $1] * z[r, $1] } / 3
            #expect(abs(ms - 1) < 1e-4)
        }
    }

    @Test("with a reactivation pull and no input norm")
    func withReactivation() throws {
        let router = try tinyRouter(inputNorm: .none)
        var state = ReactivationState(components: 6)
        state.targets[2] = [0.5, -1, 2]
        state.remaining[2] = 3
        state.targets[5] = [1, 1, -1]
        state.remaining[5] = 1
        checkAllParameters(router, reactivation: state,
                           weights: RouterLossWeights(reconstruction: 1, reactivation: 0.5, nllToEncoder: true))
    }

    @Test("with the latent detached for L_nll, the encoder learns from the reconstruction alone")
    func detachedLatent() throws {
        let router = try tinyRouter()
        let h = randomMatrix(rows: 7, cols: 6, scale: 1.5, seed: 11)
        let weights = RouterLossWeights(reconstruction: 0.7, reactivation: 0, nllToEncoder: false)
        var analytic = router
        analytic.zeroGrad()
        _ = analytic.trainStep(h, weights: weights)
        for name in ["encoder.0.weight", "encoder.1.bias"] {
            let numeric = finiteDifferences(parameter(router, name), epsilon: 1e-2) { values in
                var probe = replacing(router, name, with: values)
                return 0.7 * probe.trainStep(h, weights: weights).1.reconstruction
            }
            let check = checkTensor(name, parameter(gradientsOf: analytic, name), numeric.map(Float.init), rtol: 2e-2, atol: 2e-3)
            #expect(check.ok, "\(check)")
        }
        // The GMM and decoder gradients are those of the full loss.
        var full = router
        full.zeroGrad()
        _ = full.trainStep(h, weights: RouterLossWeights(reconstruction: 0.7, reactivation: 0, nllToEncoder: true))
        #expect(full.gmm.gradMeans == analytic.gmm.gradMeans)
        #expect(full.decoder.layers[0].gradWeight == analytic.decoder.layers[0].gradWeight)
        #expect(full.encoder.layers[0].gradWeight != analytic.encoder.layers[0].gradWeight)
    }

    @Test("clamped log-variances get no gradient")
    func clampedLogVars() throws {
        var router = try tinyRouter()
        router.gmm.logVars[1, 0] = -9  // below logVarMin = -4
        router.gmm.logVars[4, 2] = 9   // above logVarMax = 4
        let h = randomMatrix(rows: 7, cols: 6, seed: 3)
        router.zeroGrad()
        _ = router.trainStep(h)
        #expect(router.gmm.gradLogVars[1, 0] == 0)
        #expect(router.gmm.gradLogVars[4, 2] == 0)
        #expect(router.gmm.gradLogVars[1, 1] != 0)
    }

    @Test("gradients accumulate until zeroed")
    func accumulation() throws {
        var router = try tinyRouter()
        let h = randomMatrix(rows: 5, cols: 6, seed: 5)
        router.zeroGrad()
        _ = router.trainStep(h)
        let once = router.gmm.gradMeans.data
        _ = router.trainStep(h)
        let check = checkTensor("twice", router.gmm.gradMeans.data, once.map { 2 * $0 }, rtol: 1e-5, atol: 1e-7)
        #expect(check.ok, "\(check)")
        router.zeroGrad()
        #expect(router.gmm.gradMeans.data.allSatisfy { $0 == 0 })
    }
}
