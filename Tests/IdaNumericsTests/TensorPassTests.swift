import Foundation
import IdaBLAS
import IdaTestSupport
import Testing
@testable import IdaNumerics
import IdaSystem

@Suite("Passes over every tensor: merge, norms and AdamW in one hand-off")
struct TensorPassTests {
    static func randomTensors(_ sizes: [Int], seed: UInt64) -> [[Float]] {
        var rng = SeededGenerator(seed: seed)
        return sizes.map { n in (0..<n).map { _ in Float(Int(rng.next() % 2001) - 1000) / 997 } }
    }

    @Test("whole tensors per worker, each exactly once, balanced by size")
    func lanes() {
        let sizes = [5, 100, 7, 100, 30, 0, 64]
        for workers in [1, 2, 3, 16] {
            let plan = TensorPass.lanes(sizes: sizes, workers: workers)
            #expect(plan.count == min(workers, sizes.count))
            #expect(plan.flatMap { $0 }.sorted() == Array(sizes.indices))
            let loads = plan.map { $0.reduce(0) { $0 + sizes[$1] } }
            #expect((loads.max() ?? 0) - (loads.min() ?? 0) <= 100, "\(loads)")
        }
        #expect(TensorPass.lanes(sizes: sizes, workers: 2).map { $0.reduce(0) { $0 + sizes[$1] } }.sorted() == [142, 164])
    }

    @Test("adding parts: the sequential sums, exactly, and their sums of squares", arguments: [1, 2, 3])
    func addParts(threads: Int) {
        let sizes = [40_000, 3, 0, 1_000, 257]
        let parts = (0..<3).map { Self.randomTensors(sizes, seed: UInt64(7 + $0)) }
        var expected = parts[0]
        for p in parts.dropFirst() {
            for t in sizes.indices { for i in 0..<sizes[t] { expected[t][i] += p[t][i] } }
        }
        let boxes = parts.map { $0.map { FloatBox($0) } }
        let sums = TensorPass.addParts(boxes, context: NumericContext(threads: threads))
        #expect(boxes[0].map(\.array) == expected)
        #expect(sums == expected.map { GradientClipping.sumOfSquares($0) })
        #expect(boxes[1].map(\.array) == parts[1], "the other parts are left as they were")
    }

    @Test("sums of squares of visited gradients, in visit order; the arrays are put back")
    func sumsOfSquares() {
        let grads = Self.randomTensors([50_000, 10, 300], seed: 3)
        var held = grads
        var values = grads.map { $0.map { $0 + 1 } }
        let sums = GradientClipping.sumsOfSquares(context: NumericContext(threads: 2)) { body in
            for t in held.indices { body("t\(t)", [held[t].count], &values[t], &held[t]) }
        }
        #expect(sums == grads.map { GradientClipping.sumOfSquares($0) })
        #expect(held == grads)
        #expect(abs(sums.reduce(0, +).squareRoot() - GradientClipping.globalNorm(grads)) <= 1e-12 * sums.reduce(0, +))
        #expect(GradientClipping.factor(norm: 5, maxNorm: 10) == nil)
        #expect(GradientClipping.factor(norm: .nan, maxNorm: 10) == nil)
        #expect(abs((GradientClipping.factor(norm: 10, maxNorm: 5) ?? 0) - 0.5) < 1e-6)
    }

    @Test("AdamW over every tensor at once: the per-tensor updates' values, bit for bit, with clipping as a factor",
          arguments: [1, 2])
    func adamWPass(threads: Int) {
        let sizes = [33_000, 5, 1_200, 17]
        let decays = [true, false, true, false]
        let rates: [Float] = [1e-3, 1e-3, 1e-2, 1e-2]
        let scales: [Float] = [0.37, 0.37, 1, 1]
        var batched = AdamW(), single = AdamW()
        var a = Self.randomTensors(sizes, seed: 21), b = a
        for step in 0..<3 {
            var ga = Self.randomTensors(sizes, seed: 100 + UInt64(step))
            batched.beginStep()
            batched.update(context: NumericContext(threads: threads), setting: { name, _ in
                let t = Int(name.dropFirst()) ?? 0
                return AdamW.Setting(learningRate: rates[t], decay: decays[t], gradScale: scales[t])
            }, visit: { body in
                for t in sizes.indices { body("p\(t)", [sizes[t]], &a[t], &ga[t]) }
            })
            single.beginStep()
            for t in sizes.indices {
                let scaled = ga[t].map { $0 * scales[t] }  // what clipping in place gave
                single.update(name: "p\(t)", value: &b[t], grad: scaled, learningRate: rates[t], decay: decays[t])
            }
            #expect(ga == Self.randomTensors(sizes, seed: 100 + UInt64(step)), "gradients are put back unchanged")
        }
        #expect(a == b)
        #expect(batched.m == single.m && batched.v == single.v && batched.step == single.step)
    }

    @Test("the AdamW loop gives the scalar formula's bits at every vector level the CPU runs",
          arguments: VectorLevel.runnable(on: .current()))
    func adamWLevels(level: VectorLevel) {
        let n = 1_003
        let p0 = Self.randomTensors([n], seed: 5)[0], g = Self.randomTensors([n], seed: 6)[0]
        let m0 = Self.randomTensors([n], seed: 7)[0], v0 = Self.randomTensors([n], seed: 8)[0].map { $0 * $0 }
        let opt = AdamW()
        var withStep = opt
        withStep.step = 3
        let c = withStep.coefficients(learningRate: 0.01, decay: true, gradScale: 0.5)
        var p = p0, m = m0, v = v0
        p.withUnsafeMutableBufferPointer { pp in
            m.withUnsafeMutableBufferPointer { pm in
                v.withUnsafeMutableBufferPointer { pv in
                    g.withUnsafeBufferPointer { pg in
                        guard let pp = pp.baseAddress, let pm = pm.baseAddress, let pv = pv.baseAddress,
                              let pg = pg.baseAddress else { return }
                        VectorMath.adamW(pp, pg, pm, pv, count: n,
                                         .init(beta1: c.b1, beta2: c.b2, epsilon: c.eps, step_size: c.stepSize,
                                               inv_correction2: c.invCorrection2, shrink: c.shrink,
                                               grad_scale: c.gradScale), level: level)
                    }
                }
            }
        }
        for i in 0..<n {
            let gi = g[i] * c.gradScale
            let mi = c.b1 * m0[i] + (1 - c.b1) * gi
            let vi = c.b2 * v0[i] + (1 - c.b2) * gi * gi
            let pi = p0[i] * c.shrink - c.stepSize * mi / (vi.squareRoot() * c.invCorrection2 + c.eps)
            #expect(m[i] == mi && v[i] == vi && p[i] == pi, "element \(i) at \(level)")
            if m[i] != mi || v[i] != vi || p[i] != pi { break }
        }
    }
}
