import Testing
import IdaNumerics

@Suite("Layer metrics: the three loads and their CVs")
struct LayerMetricsTests {
    /// Three tokens, E = 3, k = 2, with known choices and gates.
    static var routing: RoutingResult {
        RoutingResult(tokens: 3, topK: 2, experts: 3, selected: [0, 1, 0, 2, 1, 0], weights: [0.9, 0.1, 0.6, 0.4, 0.997, 0.003],
                      expertProbabilities: [], posterior: [], posteriorWidth: 0, entropyBits: [0, 0, 0],
                      logDensity: nil, topComponent: nil, latents: nil, reconstructionError: nil)
    }

    @Test("top-1, top-k and gate-weighted loads count what their names say")
    func loads() {
        var acc = LayerMetricsAccumulator(experts: 3, components: 0)
        acc.add(Self.routing)
        let m = acc.finish()
        // top-k: e0 three of six assignments, e1 two, e2 one.
        let topK: [Double] = [3.0 / 6, 2.0 / 6, 1.0 / 6]
        #expect(m.load == topK)
        // top-1: e0 first for tokens 0 and 1, e1 for token 2.
        let top1: [Double] = [2.0 / 3, 1.0 / 3, 0]
        #expect(m.loadTop1 == top1)
        // gate-weighted: e0 0.9 + 0.6 + 0.003, e1 0.1 + 0.997, e2 0.4 (of 3).
        let gate: [Double] = [1.503 / 3, 1.097 / 3, 0.4 / 3]
        for (got, want) in zip(m.loadGate, gate) { #expect(abs(got - want) < 1e-6) }
        #expect(abs(m.cvTop1 - LayerMetrics.coefficientOfVariation(top1)) < 1e-12)
        // CV of [2/3, 1/3, 0]: mean 1/3, population std sqrt(2/27): CV sqrt(2/3).
        #expect(abs(m.cvTop1 - (2.0 / 3).squareRoot()) < 1e-12)
        #expect(m.cvGate < m.cvTop1 && m.cvGate > 0)
    }

    @Test("blocks add up: two halves give the loads of the whole")
    func streaming() {
        var whole = LayerMetricsAccumulator(experts: 3, components: 0)
        whole.add(Self.routing)
        whole.add(Self.routing)
        var single = LayerMetricsAccumulator(experts: 3, components: 0)
        single.add(Self.routing)
        #expect(whole.finish().loadTop1 == single.finish().loadTop1)
        #expect(whole.finish().loadGate == single.finish().loadGate)
    }
}
