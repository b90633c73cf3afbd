import Foundation
import Testing
import IdaNumerics
import IdaTestSupport

@Suite("Softmax router")
struct SoftmaxRouterTests {
    func tinyRouter(bias: Bool) throws -> SoftmaxRouter {
        var rng = SeededGenerator(seed: 21)
        var router = try SoftmaxRouter(experts: 5, hiddenDim: 4, topK: 2, bias: bias, rng: &rng)
        if bias { router.gate.bias = [0.1, -0.2, 0.3, 0, -0.1] }
        return router
    }

    /// Task loss sum_nj c_nj w_nj + alpha aux + beta z, with the assignment counts f held fixed.
    func loss(_ router: SoftmaxRouter, _ h: Matrix, _ c: [Float], _ w: SoftmaxLossWeights,
              fixedSelection: [Int32]) -> Double {
        let (result, cache) = router.forward(h)
        precondition(result.selected == fixedSelection, "finite-difference step changed the top-k choice")
        var task = 0.0
        for i in c.indices { task += Double(c[i]) * Double(result.weights[i]) }
        return task + w.auxiliary * router.auxiliaryLoss(result) + w.z * router.zLoss(cache)
    }

    @Test("backward vs finite differences", arguments: [false, true])
    func gradients(bias: Bool) throws {
        let router = try tinyRouter(bias: bias)
        let h = randomMatrix(rows: 6, cols: 4, scale: 2, seed: 4)
        let c = randomMatrix(rows: 6, cols: 2, seed: 9).data
        let w = SoftmaxLossWeights(auxiliary: 0.3, z: 0.05)
        var analytic = router
        let (result, cache) = analytic.forward(h)
        let dh = analytic.backward(gateGrad: c, result: result, cache: cache, losses: w)
        let sel = result.selected

        let numericW = finiteDifferences(router.gate.weight.data, epsilon: 1e-3) { values in
            var r = router
            r.gate.weight.data = values
            return loss(r, h, c, w, fixedSelection: sel)
        }
        let checkW = checkTensor("gate.weight", analytic.gate.gradWeight.data, numericW.map(Float.init), rtol: 1e-2, atol: 1e-3)
        #expect(checkW.ok, "\(checkW)")
        if bias {
            let numericB = finiteDifferences(router.gate.bias ?? [], epsilon: 1e-3) { values in
                var r = router
                r.gate.bias = values
                return loss(r, h, c, w, fixedSelection: sel)
            }
            let checkB = checkTensor("gate.bias", analytic.gate.gradBias ?? [], numericB.map(Float.init), rtol: 1e-2, atol: 1e-3)
            #expect(checkB.ok, "\(checkB)")
        }
        let numericH = finiteDifferences(h.data, epsilon: 1e-3) { values in
            loss(router, Matrix(rows: 6, cols: 4, data: values), c, w, fixedSelection: sel)
        }
        let checkH = checkTensor("dh", dh.data, numericH.map(Float.init), rtol: 1e-2, atol: 1e-3)
        #expect(checkH.ok, "\(checkH)")
    }

    @Test("known routing: ties go to the lower index, gates renormalised")
    func knownRouting() throws {
        // Logits [1, 3, 3, 0]: experts 1 and 2 tie; top-2 picks 1 then 2 with equal gates.
        var w = Matrix(rows: 4, cols: 1)
        w.data = [1, 3, 3, 0]
        let router = try SoftmaxRouter(gate: Linear(weight: w, bias: nil), topK: 2)
        let result = router.route(Matrix(rows: 1, cols: 1, data: [1]))
        #expect(result.selected == [1, 2])
        #expect(result.weights == [0.5, 0.5])
        let z = exp(1.0) + 2 * exp(3.0) + 1
        let p = [exp(1.0) / z, exp(3.0) / z, exp(3.0) / z, 1 / z]
        let check = checkTensor("probs", result.posterior, p, rtol: 1e-6)
        #expect(check.ok, "\(check)")
        let h = -p.reduce(0) { $0 + $1 * log2($1) }
        #expect(abs(result.entropyBits[0] - h) < 1e-6)
        #expect(result.logDensity == nil)
    }

    @Test("uniform routing has auxiliary loss 1")
    func auxUniform() throws {
        let router = try SoftmaxRouter(gate: Linear(weight: Matrix(rows: 4, cols: 2), bias: nil), topK: 1)
        // All logits 0: every token picks expert 0 (ties to the lower index), P_e = 1/4, f = [1,0,0,0].
        let result = router.route(randomMatrix(rows: 8, cols: 2, seed: 1))
        #expect(abs(router.auxiliaryLoss(result) - 1) < 1e-9)
        #expect(result.selected.allSatisfy { $0 == 0 })
    }
}
