import Foundation
import Testing
import IdaNumerics
import IdaTestSupport

/// B = 2, T = 5, D = 8, H = 2 attention with non-zero biases.
func transformerTinyAttention(block: Int = 32) -> CausalSelfAttention {
    var rng = SeededGenerator(seed: 21)
    var layer = CausalSelfAttention(width: 8, heads: 2, rng: &rng)
    layer.qkv.bias = transformerRandomVector(24, scale: 0.3, seed: 22)
    layer.proj.bias = transformerRandomVector(8, scale: 0.3, seed: 23)
    layer.causalBlock = block
    return layer
}

/// Attention computed the slow way in double, straight from the definition.
func transformerNaiveAttention(_ layer: CausalSelfAttention, _ x: Matrix, batch: Int, time: Int) -> [Double] {
    let d = layer.width, h = layer.heads, hd = d / h
    let qkv = layer.qkv.forward(x)
    var attended = [Double](repeating: 0, count: batch * time * d)
    for b in 0..<batch {
        for head in 0..<h {
            for i in 0..<time {
                var scores = [Double](repeating: 0, count: i + 1)
                for j in 0...i {
                    var dot = 0.0
                    for c in 0..<hd {
                        dot += Double(qkv[b * time + i, head * hd + c]) * Double(qkv[b * time + j, d + head * hd + c])
                    }
                    scores[j] = dot / Double(hd).squareRoot()
                }
                let peak = scores.max() ?? 0
                let exps = scores.map { Foundation.exp($0 - peak) }
                let sum = exps.reduce(0, +)
                for c in 0..<hd {
                    var acc = 0.0
                    for j in 0...i { acc += exps[j] / sum * Double(qkv[b * time + j, 2 * d + head * hd + c]) }
                    attended[(b * time + i) * d + head * hd + c] = acc
                }
            }
        }
    }
    var y = [Double](repeating: 0, count: batch * time * d)
    for n in 0..<(batch * time) {
        for o in 0..<d {
            var acc = Double(layer.proj.bias?[o] ?? 0)
            for c in 0..<d { acc += attended[n * d + c] * Double(layer.proj.weight[o, c]) }
            y[n * d + o] = acc
        }
    }
    return y
}

@Suite("Transformer: causal self-attention")
struct TransformerAttentionTests {
    let x = randomMatrix(rows: 10, cols: 8, scale: 1, seed: 24)
    let r = randomMatrix(rows: 10, cols: 8, seed: 25)

    @Test("forward matches the definition for any block size", arguments: [1, 2, 3, 64])
    func forwardMatchesDefinition(block: Int) {
        let layer = transformerTinyAttention(block: block)
        let (y, cache) = layer.forward(x, batch: 2, time: 5)
        let expected = transformerNaiveAttention(layer, x, batch: 2, time: 5)
        let check = checkTensor("y", y.data.map(Double.init), expected, rtol: 1e-5, atol: 1e-6)
        #expect(check.ok, "\(check)")
        // Probabilities: rows sum to 1, strict upper triangle exactly 0.
        for row in 0..<(2 * 2 * 5) {
            let i = row % 5
            let values = cache.probabilities[(row * 5)..<(row * 5 + 5)]
            #expect(abs(values.reduce(0, +) - 1) < 1e-5)
            #expect(values.dropFirst(i + 1).allSatisfy { $0 == 0 })
        }
    }

    @Test("backward vs finite differences: dx and every parameter", arguments: [2, 32])
    func gradients(block: Int) {
        let layer = transformerTinyAttention(block: block)
        var trained = layer
        trained.zeroGrad()
        let (_, cache) = trained.forward(x, batch: 2, time: 5)
        let dx = trained.backward(r, cache: cache)
        let numeric = transformerInputGradient(x) { transformerProjection(layer.forward($0, batch: 2, time: 5).0, r) }
        let check = checkTensor("dx", dx.data, numeric, rtol: 2e-2, atol: 2e-3)
        #expect(check.ok, "\(check)")
        let checks = transformerCheckParameterGradients(layer, trained: trained, loss: { probe in
            transformerProjection(probe.forward(x, batch: 2, time: 5).0, r)
        })
        #expect(checks.count == 4)
        for check in checks { #expect(check.ok, "\(check)") }
        #expect(transformerParameters(trained).map(\.name) == ["p.qkv.weight", "p.qkv.bias", "p.proj.weight", "p.proj.bias"])
    }

    @Test("gradients do not depend on the block size")
    func blockInvariance() {
        func grads(_ block: Int) -> [Float] {
            var layer = transformerTinyAttention(block: block)
            layer.zeroGrad()
            let (_, cache) = layer.forward(x, batch: 2, time: 5)
            var all = layer.backward(r, cache: cache).data
            for p in transformerParameters(layer) { all += p.grad }
            return all
        }
        let reference = grads(64)
        for block in [1, 2, 3] {
            let check = checkTensor("block \(block)", grads(block), reference, rtol: 1e-5, atol: 1e-6)
            #expect(check.ok, "\(check)")
        }
    }

    @Test("causal: changing token t leaves positions before t (and the other sequence) unchanged")
    func causality() {
        let layer = transformerTinyAttention(block: 2)
        let (base, _) = layer.forward(x, batch: 2, time: 5)
        for t in 0..<5 {
            var changed = x
            for c in 0..<8 { changed[5 + t, c] += 3 }  // batch 1, time t
            let (y, _) = layer.forward(changed, batch: 2, time: 5)
            for row in 0..<10 {
                let same = (0..<8).allSatisfy { y[row, $0] == base[row, $0] }
                let mustStay = row < 5 || row < 5 + t
                if mustStay { #expect(same, "row \(row) moved when token \(t) of sequence 1 changed") }
                if !mustStay { #expect(!same, "row \(row) ignored token \(t)") }
            }
        }
    }
}
