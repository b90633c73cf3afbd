import Foundation
import Testing
import IdaNumerics
import IdaTestSupport

@Suite("Transformer: loss, optimizer, schedule, clipping")
struct TransformerTrainingTests {
    @Test("cross-entropy: uniform logits give log V")
    func uniformLogits() {
        let (loss, d) = CrossEntropy.forward(logits: Matrix(rows: 3, cols: 10, repeating: 2.5), targets: [0, 7, 9])
        #expect(abs(loss - Foundation.log(10.0)) < 1e-6)
        #expect(abs(Double(d[1, 7]) - (0.1 - 1) / 3) < 1e-7)
        #expect(abs(Double(d[1, 0]) - 0.1 / 3) < 1e-7)
    }

    @Test("cross-entropy: gradient vs finite differences, large logits stay finite")
    func crossEntropyGradient() {
        let logits = randomMatrix(rows: 4, cols: 6, scale: 2, seed: 51)
        let targets: [Int32] = [5, 0, 3, 3]
        let (_, d) = CrossEntropy.forward(logits: logits, targets: targets)
        let numeric = transformerInputGradient(logits) { CrossEntropy.forward(logits: $0, targets: targets).loss }
        let check = checkTensor("dLogits", d.data, numeric, rtol: 2e-2, atol: 2e-3)
        #expect(check.ok, "\(check)")
        let huge = Matrix(rows: 1, cols: 3, data: [1000, -1000, 990])
        let (loss, dHuge) = CrossEntropy.forward(logits: huge, targets: [2])
        #expect(abs(loss - (10 + Foundation.log(1 + Foundation.exp(-10.0)))) < 1e-4)
        #expect(dHuge.data.allSatisfy { $0.isFinite })
    }

    @Test("AdamW: two steps match the formulas by hand")
    func adamTwoSteps() {
        let lr = 0.01, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1
        let grads: [Double] = [0.5, -0.2]
        // By hand, in double: p starts at 1.
        var p = 1.0, m = 0.0, v = 0.0, q = 1.0  // q: same parameter without decay
        var mq = 0.0, vq = 0.0
        for (i, g) in grads.enumerated() {
            let t = Double(i + 1)
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            p = p * (1 - lr * wd) - lr / (1 - Foundation.pow(b1, t)) * m / (v.squareRoot() / (1 - Foundation.pow(b2, t)).squareRoot() + eps)
            mq = b1 * mq + (1 - b1) * g
            vq = b2 * vq + (1 - b2) * g * g
            q -= lr / (1 - Foundation.pow(b1, t)) * mq / (vq.squareRoot() / (1 - Foundation.pow(b2, t)).squareRoot() + eps)
        }
        var opt = AdamW()
        var value: [Float] = [1]
        var plain: [Float] = [1]
        for g in grads {
            opt.beginStep()
            opt.update(name: "w", value: &value, grad: [Float(g)], learningRate: Float(lr), decay: true)
            opt.update(name: "b", value: &plain, grad: [Float(g)], learningRate: Float(lr), decay: false)
        }
        #expect(opt.step == 2)
        #expect(abs(Double(value[0]) - p) < 1e-6, "decayed \(value[0]) vs \(p)")
        #expect(abs(Double(plain[0]) - q) < 1e-6, "plain \(plain[0]) vs \(q)")
        #expect(abs(Double(opt.m["w"]?[0] ?? 0) - m) < 1e-7)
        #expect(abs(Double(opt.v["w"]?[0] ?? 0) - v) < 1e-8)
        // The first step of Adam moves by about lr whatever the gradient's scale.
        var fresh = AdamW(weightDecay: 0)
        var z: [Float] = [0, 0]
        fresh.beginStep()
        fresh.update(name: "z", value: &z, grad: [1e-3, -50], learningRate: 0.1, decay: false)
        #expect(abs(z[0] + 0.1) < 1e-5 && abs(z[1] - 0.1) < 1e-5)
    }

    @Test("AdamW: restored state continues identically")
    func adamRestore() {
        var a = AdamW()
        var x: [Float] = [0.3, -0.7, 1.1]
        a.beginStep()
        a.update(name: "x", value: &x, grad: [0.1, 0.2, -0.3], learningRate: 0.05, decay: true)
        var b = AdamW()
        b.step = a.step
        b.m = a.m
        b.v = a.v
        var y = x
        a.beginStep()
        b.beginStep()
        a.update(name: "x", value: &x, grad: [-0.4, 0.1, 0.2], learningRate: 0.05, decay: true)
        b.update(name: "x", value: &y, grad: [-0.4, 0.1, 0.2], learningRate: 0.05, decay: true)
        #expect(x == y)
    }

    @Test("schedule: warmup, peak, cosine midpoint, floor")
    func schedule() {
        let s = LearningRateSchedule(peak: 1e-3, warmup: 10, total: 110, minRatio: 0.1)
        #expect(abs(s.rate(at: 0) - 1e-4) < 1e-9)
        #expect(abs(s.rate(at: 4) - 5e-4) < 1e-9)
        #expect(abs(s.rate(at: 9) - 1e-3) < 1e-9)
        #expect(abs(s.rate(at: 10) - 1e-3) < 1e-9)
        #expect(abs(s.rate(at: 60) - 5.5e-4) < 1e-9)
        #expect(abs(s.rate(at: 110) - 1e-4) < 1e-9)
        #expect(abs(s.rate(at: 500) - 1e-4) < 1e-9)
        #expect(s.rate(at: 30) > s.rate(at: 31))
        let flat = LearningRateSchedule(peak: 2, warmup: 0, total: 0, minRatio: 0.5)
        #expect(flat.rate(at: 0) == 1)
    }

    @Test("clipping by global norm")
    func clipping() {
        var grads: [[Float]] = [[3], [0, 4]]
        #expect(GradientClipping.globalNorm(grads) == 5)
        #expect(GradientClipping.clip(&grads, maxNorm: 10) == 5)
        #expect(grads == [[3], [0, 4]])
        #expect(GradientClipping.clip(&grads, maxNorm: 1) == 5)
        #expect(abs(grads[0][0] - 0.6) < 1e-6 && abs(grads[1][1] - 0.8) < 1e-6)

        var norm = RMSNorm(width: 2)
        var table = Embedding(weight: Matrix(rows: 2, cols: 2))
        norm.gradWeight = [6, 0]
        table.gradWeight.data = [0, 8, 0, 0]
        let sums = GradientClipping.sumsOfSquares(context: .serial) { body in
            norm.visitParameters(prefix: "norm", body)
            table.visitParameters(prefix: "wte", body)
        }
        #expect(sums == [36, 64])
        #expect(abs((GradientClipping.factor(norm: sums.reduce(0, +).squareRoot(), maxNorm: 5) ?? 0) - 0.5) < 1e-6)
        #expect(norm.gradWeight == [6, 0] && table.gradWeight.data == [0, 8, 0, 0], "put back unchanged")
    }
}
