import Testing
import IdaNumerics
import IdaTestSupport

@Suite("Transformer: embedding and RMS norm")
struct TransformerEmbeddingNormTests {
    @Test("embedding gathers rows and scatter-adds gradients (repeated tokens)")
    func embedding() {
        var rng = SeededGenerator(seed: 1)
        let table = Embedding(vocab: 5, width: 3, std: 1, rng: &rng)
        let tokens: [Int32] = [4, 1, 4, 0, 2, 4]
        let out = table.forward(tokens: tokens)
        #expect(out.rows == 6 && out.cols == 3)
        for (n, t) in tokens.enumerated() {
            #expect(Array(out.data[(n * 3)..<(n * 3 + 3)]) == Array(table.weight.data[(Int(t) * 3)..<(Int(t) * 3 + 3)]))
        }
        let r = randomMatrix(rows: 6, cols: 3, seed: 2)
        var trained = table
        trained.zeroGrad()
        trained.backward(r, tokens: tokens)
        for check in transformerCheckParameterGradients(table, trained: trained, loss: { layer in
            transformerProjection(layer.forward(tokens: tokens), r)
        }) { #expect(check.ok, "\(check)") }
        // Row 3 is never used: exactly zero. Gradients accumulate until zeroed.
        #expect(trained.gradWeight.data[9..<12].allSatisfy { $0 == 0 })
        let once = trained.gradWeight.data
        trained.backward(r, tokens: tokens)
        #expect(trained.gradWeight.data == once.map { 2 * $0 })
        trained.zeroGrad()
        #expect(trained.gradWeight.data.allSatisfy { $0 == 0 })
        #expect(transformerParameters(trained).map(\.name) == ["p.weight"])
    }

    @Test("RMS norm forward matches the definition")
    func rmsForward() {
        var norm = RMSNorm(width: 4)
        norm.weight = [1, 2, 0.5, -1]
        let x = Matrix(rows: 2, cols: 4, data: [1, 2, 3, 4, 0, 0, 0, 0])
        let (y, cache) = norm.forward(x)
        let inv = 1 / (30.0 / 4 + 1e-5).squareRoot()
        let expected = [1 * inv, 4 * inv, 1.5 * inv, -4 * inv, 0, 0, 0, 0].map(Float.init)
        let check = checkTensor("y", y.data, expected, rtol: 1e-6, atol: 1e-7)
        #expect(check.ok, "\(check)")
        #expect(abs(Double(cache.reciprocalRMS[1]) - 1 / (1e-5).squareRoot()) < 1)
    }

    @Test("RMS norm backward vs finite differences")
    func rmsBackward() {
        var norm = RMSNorm(width: 6)
        norm.weight = transformerRandomVector(6, scale: 0.5, offset: 1, seed: 3)
        let x = randomMatrix(rows: 5, cols: 6, scale: 1.3, seed: 4)
        let r = randomMatrix(rows: 5, cols: 6, seed: 5)
        var trained = norm
        trained.zeroGrad()
        let (_, cache) = trained.forward(x)
        let dx = trained.backward(r, input: x, cache: cache)
        let numeric = transformerInputGradient(x) { transformerProjection(norm.forward($0).0, r) }
        let check = checkTensor("dx", dx.data, numeric, rtol: 2e-2, atol: 2e-3)
        #expect(check.ok, "\(check)")
        for check in transformerCheckParameterGradients(norm, trained: trained, loss: { layer in
            transformerProjection(layer.forward(x).0, r)
        }) { #expect(check.ok, "\(check)") }
    }
}
