import Testing
import IdaNumerics
import IdaTestSupport

/// An expert of width 4, hidden 5, with non-zero biases where it has them.
func transformerTinyExpert(_ kind: ExpertMLP.Kind, seed: UInt64) -> ExpertMLP {
    var rng = SeededGenerator(seed: seed)
    var expert = ExpertMLP(kind: kind, width: 4, hidden: 5, bias: true, rng: &rng)
    expert.up.bias = transformerRandomVector(expert.up.outputs, scale: 0.3, seed: seed + 100)
    expert.down.bias = transformerRandomVector(4, scale: 0.3, seed: seed + 200)
    return expert
}

@Suite("Transformer: expert MLPs and the mixture")
struct TransformerExpertTests {
    // N = 7 tokens, k = 2; expert 2 of 3 is picked by tokens 1, 3, 4, 6.
    let selected: [Int32] = [0, 1, 2, 0, 1, 2, 2, 1, 0, 2, 1, 0, 2, 0]
    let weights: [Float] = [0.7, 0.3, 0.55, 0.45, 0.9, 0.1, 0.6, 0.4, 0.5, 0.5, 0.2, 0.8, 0.35, 0.65]
    let x = randomMatrix(rows: 7, cols: 4, scale: 1.2, seed: 31)
    let r = randomMatrix(rows: 7, cols: 4, seed: 32)

    @Test("expert backward vs finite differences", arguments: ExpertMLP.Kind.allCases)
    func expert(kind: ExpertMLP.Kind) {
        let expert = transformerTinyExpert(kind, seed: 33)
        var trained = expert
        trained.zeroGrad()
        let (_, cache) = trained.forward(x)
        let dx = trained.backward(r, cache: cache)
        let numeric = transformerInputGradient(x) { transformerProjection(expert.forward($0).0, r) }
        let check = checkTensor("dx", dx.data, numeric, rtol: 2e-2, atol: 2e-3)
        #expect(check.ok, "\(check)")
        let checks = transformerCheckParameterGradients(expert, trained: trained, loss: { probe in
            transformerProjection(probe.forward(x).0, r)
        })
        #expect(checks.count == 4)
        for check in checks { #expect(check.ok, "\(check)") }
    }

    @Test("SwiGLU forward is down(silu(gate) * value)")
    func swigluForward() {
        var rng = SeededGenerator(seed: 34)
        let expert = ExpertMLP(kind: .swiglu, width: 4, hidden: 3, rng: &rng)
        #expect(expert.up.bias == nil && expert.up.outputs == 6)
        let pre = expert.up.forward(x)
        var h = Matrix(rows: 7, cols: 3)
        for n in 0..<7 { for c in 0..<3 { h[n, c] = Activation.silu.apply(pre[n, c]) * pre[n, 3 + c] } }
        let check = checkTensor("y", expert.forward(x).0.data, expert.down.forward(h).data, rtol: 1e-5, atol: 1e-6)
        #expect(check.ok, "\(check)")
    }

    func mixture(_ kind: ExpertMLP.Kind) -> MoEFeedForward {
        MoEFeedForward(experts: (0..<3).map { transformerTinyExpert(kind, seed: 40 + UInt64($0)) })
    }

    @Test("mixture forward is the weighted sum of the selected experts", arguments: ExpertMLP.Kind.allCases)
    func mixtureForward(kind: ExpertMLP.Kind) {
        let layer = mixture(kind)
        let (y, cache) = layer.forward(x, selected: selected, weights: weights, topK: 2)
        #expect(cache.counts == [5, 4, 5])
        #expect(cache.order.map { selected[Int($0)] } == [0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2])
        var expected = [Float](repeating: 0, count: 28)
        for n in 0..<7 {
            let row = x.rows(n..<(n + 1))
            for j in 0..<2 {
                let out = layer.experts[Int(selected[n * 2 + j])].forward(row).0
                for c in 0..<4 { expected[n * 4 + c] += weights[n * 2 + j] * out.data[c] }
            }
        }
        let check = checkTensor("y", y.data, expected, rtol: 1e-5, atol: 1e-6)
        #expect(check.ok, "\(check)")
    }

    @Test("mixture backward vs finite differences: dx, dWeights, every expert", arguments: ExpertMLP.Kind.allCases)
    func mixtureGradients(kind: ExpertMLP.Kind) {
        let layer = mixture(kind)
        var trained = layer
        trained.zeroGrad()
        let (_, cache) = trained.forward(x, selected: selected, weights: weights, topK: 2)
        let (dx, dWeights) = trained.backward(r, cache: cache)
        let sel = selected, w = weights
        let numeric = transformerInputGradient(x) {
            transformerProjection(layer.forward($0, selected: sel, weights: w, topK: 2).0, r)
        }
        let check = checkTensor("dx", dx.data, numeric, rtol: 2e-2, atol: 2e-3)
        #expect(check.ok, "\(check)")
        let numericWeights = finiteDifferences(weights, epsilon: 1e-2) {
            transformerProjection(layer.forward(x, selected: sel, weights: $0, topK: 2).0, r)
        }
        let weightCheck = checkTensor("dWeights", dWeights, numericWeights.map(Float.init), rtol: 2e-2, atol: 2e-3)
        #expect(weightCheck.ok, "\(weightCheck)")
        let checks = transformerCheckParameterGradients(layer, trained: trained, loss: { probe in
            transformerProjection(probe.forward(x, selected: sel, weights: w, topK: 2).0, r)
        })
        #expect(checks.count == 12)
        for check in checks { #expect(check.ok, "\(check)") }
        #expect(transformerParameters(trained).first?.name == "p.experts.0.up.weight")
    }

    @Test("an expert with no tokens gets no gradient")
    func idleExpert() {
        var layer = mixture(.gelu)
        layer.zeroGrad()
        let sel: [Int32] = [0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1]
        let (_, cache) = layer.forward(x, selected: sel, weights: weights, topK: 2)
        #expect(cache.counts == [7, 7, 0])
        #expect(cache.expertCaches[2] == nil)
        _ = layer.backward(r, cache: cache)
        var idle = layer.experts[2]
        idle.visitParameters(prefix: "e") { _, _, _, grad in #expect(grad.allSatisfy { $0 == 0 }) }
        #expect(layer.experts[0].down.gradWeight.data.contains { $0 != 0 })
    }
}
