import Testing
import IdaNumerics
import IdaTestSupport
import IdaRouting
@testable import IdaTraining

/// A tiny configuration: V 16, D 8, 2 heads, 2 blocks, T 5, E 3, k 2, F 6, M 2, P 3.
func tinyModelConfig(router: RouterKind, moeEvery: Int = 1, expert: ExpertMLP.Kind = .gelu) -> ModelConfig {
    var c = ModelConfig()
    c.vocab = 16
    c.width = 8
    c.heads = 2
    c.blocks = 2
    c.context = 5
    c.experts = 3
    c.topK = 2
    c.expertHidden = 6
    c.expertKind = expert
    c.moeEvery = moeEvery
    c.router = router
    c.componentsPerExpert = 2
    c.latentDim = 3
    c.routerHidden = [4]
    c.gateBias = true
    return c
}

@Suite("Whole-model backward vs finite differences")
struct ModelGradientTests {
    let tokens: [Int32] = [1, 5, 9, 2, 14, 3, 3, 7, 0, 11]
    let targets: [Int32] = [5, 9, 2, 14, 3, 3, 7, 0, 11, 6]

    /// Task loss (plus the softmax extra losses) and the routing decisions, without touching gradients.
    /// IDA gates are detached, so the finite differences hold the IDA routing at its unperturbed value.
    func loss(_ model: MoETransformer, _ settings: StepSettings,
              frozen: [Int: RoutingResult]? = nil) -> (Double, [[Int32]]) {
        var copy = model
        let (logits, _, layers) = copy.forward(tokens: tokens, batch: 2, time: 5, train: false, settings: settings,
                                               reactivation: [:], frozenIDARouting: frozen)
        var total = CrossEntropy.forward(logits: logits, targets: targets).loss
        for l in layers {
            total += settings.softmax.auxiliary * (l.auxiliaryLoss ?? 0) + settings.softmax.z * (l.zLoss ?? 0)
        }
        return (total, layers.map(\.routing.selected))
    }

    func check(_ config: ModelConfig, settings: StepSettings) throws {
        let model = try MoETransformer(config: config, seed: 3)
        var analytic = model
        analytic.zeroGrad()
        let (logits, cache, steps) = analytic.forward(tokens: tokens, batch: 2, time: 5, train: false,
                                                      settings: settings, reactivation: [:])
        var frozen: [Int: RoutingResult]? = nil
        if config.router == .ida {
            frozen = Dictionary(uniqueKeysWithValues: steps.map { ($0.layer, $0.routing) })
        }
        let (_, dLogits) = CrossEntropy.forward(logits: logits, targets: targets)
        analytic.backward(dLogits, cache: cache, settings: settings)
        var grads: [String: [Float]] = [:]
        var names: [String] = []
        analytic.visitParameters { name, _, _, grad in
            names.append(name)
            grads[name] = grad
        }
        let baseline = loss(model, settings, frozen: frozen).1
        var checked = 0
        for name in names {
            // IDA router parameters are trained by the router losses only: the task loss never reaches them.
            if config.router == .ida && MoETransformer.isRouterParameter(name) {
                #expect(grads[name]?.allSatisfy { $0 == 0 } == true, "\(name) got a task gradient")
                continue
            }
            var values: [Float] = []
            var mutable = model
            mutable.visitParameters { n, _, value, _ in if n == name { values = value } }
            let picks = Array(Set((0..<min(values.count, 6)).map { ($0 * 7919) % values.count })).sorted()
            for index in picks {
                let eps: Float = 2e-3
                func perturbed(_ delta: Float) -> (Double, [[Int32]]) {
                    var m = model
                    m.visitParameters { n, _, value, _ in if n == name { value[index] += delta } }
                    return loss(m, settings, frozen: frozen)
                }
                let plus = perturbed(eps), minus = perturbed(-eps)
                guard plus.1 == baseline, minus.1 == baseline else { continue }  // a routing decision flipped
                let numeric = (plus.0 - minus.0) / Double(2 * eps)
                let analyticValue = Double(grads[name]?[index] ?? .nan)
                let ok = abs(numeric - analyticValue) <= 2e-3 + 3e-2 * abs(numeric)
                #expect(ok, "\(name)[\(index)]: analytic \(analyticValue), numeric \(numeric)")
                checked += 1
            }
        }
        #expect(checked > 50)
    }

    @Test("IDA router model (GELU experts): backbone gradients; router untouched by the task loss")
    func idaModel() throws {
        try check(tinyModelConfig(router: .ida), settings: StepSettings())
    }

    @Test("softmax router model with aux and z losses, SwiGLU experts, MoE every other block")
    func softmaxModel() throws {
        var settings = StepSettings()
        settings.softmax = SoftmaxLossWeights(auxiliary: 0.1, z: 0.01)
        try check(tinyModelConfig(router: .softmax, moeEvery: 2, expert: .swiglu), settings: settings)
        try check(tinyModelConfig(router: .softmax), settings: settings)
    }
}
