import Foundation
import Testing
import IdaNumerics
import IdaTestSupport

@Suite("Sigmoid-bias router (auxiliary-loss-free balancing)")
struct SigmoidBiasRouterTests {
    func tinyRouter(bias: [Float]) throws -> SoftmaxRouter {
        var rng = SeededGenerator(seed: 23)
        var router = try SoftmaxRouter(experts: 5, hiddenDim: 4, topK: 2, scoring: .sigmoid, selectionBias: true, rng: &rng)
        router.selectionBias = bias
        return router
    }

    @Test("backward vs finite differences; the selection bias gets no gradient", arguments: [[Float](repeating: 0, count: 5), [0.3, -0.2, 0.1, 0, 0.25]])
    func gradients(bias: [Float]) throws {
        let router = try tinyRouter(bias: bias)
        let h = randomMatrix(rows: 6, cols: 4, scale: 2, seed: 4)
        let c = randomMatrix(rows: 6, cols: 2, seed: 9).data
        var analytic = router
        let (result, cache) = analytic.forward(h)
        let dh = analytic.backward(gateGrad: c, result: result, cache: cache, losses: SoftmaxLossWeights())
        func loss(_ r: SoftmaxRouter, _ x: Matrix) -> Double {
            let routed = r.route(x)
            precondition(routed.selected == result.selected, "finite-difference step changed the top-k choice")
            return zip(c, routed.weights).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        let numericW = finiteDifferences(router.gate.weight.data, epsilon: 1e-3) { values in
            var r = router
            r.gate.weight.data = values
            return loss(r, h)
        }
        let checkW = checkTensor("gate.weight", analytic.gate.gradWeight.data, numericW.map(Float.init), rtol: 1e-2, atol: 1e-3)
        #expect(checkW.ok, "\(checkW)")
        let numericH = finiteDifferences(h.data, epsilon: 1e-3) { values in loss(router, Matrix(rows: 6, cols: 4, data: values)) }
        let checkH = checkTensor("dh", dh.data, numericH.map(Float.init), rtol: 1e-2, atol: 1e-3)
        #expect(checkH.ok, "\(checkH)")
        #expect(analytic.selectionBias == bias)
    }

    @Test("known routing: top-k by score + bias, gates by score alone, entropy of the normalised scores")
    func knownRouting() throws {
        // Logits [2, 1, 0, -1] -> scores sigmoid; a bias of +0.5 on expert 3 lifts it above expert 1.
        var w = Matrix(rows: 4, cols: 1)
        w.data = [2, 1, 0, -1]
        let router = try SoftmaxRouter(gate: Linear(weight: w, bias: nil), topK: 2, scoring: .sigmoid,
                                       selectionBias: [0, 0, 0, 0.5])
        let result = router.route(Matrix(rows: 1, cols: 1, data: [1]))
        let s = [2.0, 1, 0, -1].map { 1 / (1 + exp(-$0)) }
        // s + b: [0.881, 0.731, 0.5, 0.769]: experts 0 and 3.
        #expect(result.selected == [0, 3])
        let gates = [Float(s[0] / (s[0] + s[3])), Float(s[3] / (s[0] + s[3]))]
        #expect(abs(result.weights[0] - gates[0]) < 1e-6 && abs(result.weights[1] - gates[1]) < 1e-6)
        let total = s.reduce(0, +)
        let p = s.map { $0 / total }
        let check = checkTensor("probs", result.posterior, p, rtol: 1e-9)
        #expect(check.ok, "\(check)")
        #expect(abs(result.entropyBits[0] - (-p.reduce(0) { $0 + $1 * log2($1) })) < 1e-9)
    }

    @Test("the bias moves by the rate toward balance: up below the fair share, down above, still at it")
    func biasUpdate() throws {
        var router = try tinyRouter(bias: [0, 0, 0, 0, 0])
        // 5 tokens, k = 2: 10 assignments, fair count 2 each. Counts: e0 4, e1 2, e2 3, e3 1, e4 0.
        let result = RoutingResult(tokens: 5, topK: 2, experts: 5, selected: [0, 2, 0, 1, 0, 2, 0, 3, 1, 2],
                                   weights: [Float](repeating: 0.5, count: 10), expertProbabilities: [], posterior: [],
                                   posteriorWidth: 5, entropyBits: [], logDensity: nil, topComponent: nil, latents: nil,
                                   reconstructionError: nil)
        router.updateSelectionBias(result, rate: 0.01)
        #expect(router.selectionBias == [-0.01, 0, -0.01, 0.01, 0.01])
        var plain = try SoftmaxRouter(gate: router.gate, topK: 2)
        plain.updateSelectionBias(result, rate: 0.01)
        #expect(plain.selectionBias.isEmpty)
    }

    @Test("a wrong-length or non-finite selection bias is refused")
    func badBias() throws {
        let gate = Linear(weight: Matrix(rows: 4, cols: 2), bias: nil)
        #expect(throws: NumericsError.self) { try SoftmaxRouter(gate: gate, topK: 2, scoring: .sigmoid, selectionBias: [0, 0]) }
        #expect(throws: NumericsError.self) { try SoftmaxRouter(gate: gate, topK: 2, scoring: .sigmoid, selectionBias: [0, .nan, 0, 0]) }
    }
}
