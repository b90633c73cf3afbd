import Foundation
import IdaNumerics
import IdaRouting
import IdaTestSupport
import Testing
@testable import IdaTraining

@Suite("Micro-batches: split gradients add up to the whole batch's")
struct MicroBatchTests {
    /// Every gradient after one accumulation, in visit order, with the names.
    func gradients(_ model: inout MoETransformer) -> [(String, [Float])] {
        var out: [(String, [Float])] = []
        model.visitParameters { name, _, _, grad in out.append((name, grad)) }
        return out
    }

    @Test("2 and 3 micro-batches give the whole batch's loss, gradients and layer figures",
          arguments: [(RouterKind.ida, 3), (.softmax, 2), (.softmax, 3), (.sigmoidBias, 2)])
    func sameGradients(router: RouterKind, groups: Int) throws {
        let config = TinyModel.config(router: router)
        let whole = try MoETransformer(config: config, seed: 5)
        let batch = 5, time = config.context
        var rng = SeededGenerator(seed: 11)
        let tokens = (0..<(batch * time)).map { _ in Int32(rng.next() % 256) }
        let targets = (0..<(batch * time)).map { _ in Int32(rng.next() % 256) }
        var settings = StepSettings()
        settings.softmax = SoftmaxLossWeights(auxiliary: 0.3, z: 0.05)
        settings.context = NumericContext(threads: groups)
        var reactivation: [Int: ReactivationState] = [:]
        if router == .ida {
            for i in config.moeLayers {
                var state = ReactivationState(components: config.experts * config.componentsPerExpert)
                state.targets[1] = [Float](repeating: 0.5, count: config.latentDim)  // one component being pulled
                state.remaining[1] = 3
                reactivation[i] = state
            }
        }
        var a = whole, b = whole
        let one = a.accumulateGradients(tokens: tokens, targets: targets, batch: batch, time: time, groups: 1,
                                        settings: settings, reactivation: reactivation)
        let split = b.accumulateGradients(tokens: tokens, targets: targets, batch: batch, time: time, groups: groups,
                                          settings: settings, reactivation: reactivation)
        #expect(abs(one.loss - split.loss) < 1e-6 * abs(one.loss), "\(one.loss) vs \(split.loss)")
        for ((name, ga), (_, gb)) in zip(gradients(&a), gradients(&b)) {
            let check = checkTensor(name, gb, ga, rtol: 1e-3, atol: 1e-7)
            #expect(check.ok, "\(check)")
        }
        for (la, lb) in zip(one.layers, split.layers) {
            #expect(la.routing.selected == lb.routing.selected && la.routing.tokens == lb.routing.tokens)
            if let ra = la.routerLosses, let rb = lb.routerLosses {
                #expect(abs(ra.nll - rb.nll) < 1e-6 * abs(ra.nll) && abs(ra.reconstruction - rb.reconstruction) < 1e-6)
                #expect(ra.reactivation == rb.reactivation)
                #expect(lb.routing.latents?.rows == batch * time && lb.routing.logDensity?.count == batch * time)
            }
            if let aux = la.auxiliaryLoss { #expect(abs(aux - (lb.auxiliaryLoss ?? .nan)) <= 1e-6 * aux) }
            if let z = la.zLoss { #expect(abs(z - (lb.zLoss ?? .nan)) <= 1e-6 * z + 1e-12) }
        }
    }

    @Test("buffers kept from step to step: the next step's gradients are its own, not added to the last's")
    func reusedBuffers() throws {
        let config = TinyModel.config(router: .ida)
        let start = try MoETransformer(config: config, seed: 8)
        let batch = 4, time = config.context
        var rng = SeededGenerator(seed: 2)
        let draw = { (_: Int) in (0..<(batch * time)).map { _ in Int32(rng.next() % 256) } }
        let (t1, y1, t2, y2) = (draw(0), draw(1), draw(2), draw(3))
        var settings = StepSettings()
        settings.context = NumericContext(threads: 2)
        let buffers = MicroBatchBuffers()
        var reused = start, fresh = start
        _ = reused.accumulateGradients(tokens: t1, targets: y1, batch: batch, time: time, groups: 2,
                                       settings: settings, reactivation: [:], buffers: buffers)
        #expect(buffers.gradients.count == 2, "each replica's buffers are kept")
        let second = reused.accumulateGradients(tokens: t2, targets: y2, batch: batch, time: time, groups: 2,
                                                settings: settings, reactivation: [:], buffers: buffers)
        let alone = fresh.accumulateGradients(tokens: t2, targets: y2, batch: batch, time: time, groups: 2,
                                              settings: settings, reactivation: [:])
        #expect(second.loss == alone.loss)
        #expect(second.sumsOfSquares == alone.sumsOfSquares)
        let (ga, gb) = (gradients(&reused), gradients(&fresh))
        #expect(ga.count == gb.count && ga.count > 0)
        for ((name, a), (_, b)) in zip(ga, gb) { #expect(a == b, "\(name)") }
        // The sums of squares the step returns are those of the model's gradients.
        #expect(second.sumsOfSquares == ga.map { GradientClipping.sumOfSquares($0.1) })
    }
}
