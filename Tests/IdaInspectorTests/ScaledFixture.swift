@testable import IdaNumerics
import IdaRouting
@testable import IdaInspector

/// A large analysis from literal numbers (no routing, no BLAS): `layers` MoE layers x `experts`
/// experts x M components, `tokens` probe tokens. Expert e of layer l gets a load proportional to
/// 1 + (7e + 3l) mod 11, except every sixteenth expert (e + l divisible by 16), which gets none.
enum ScaledFixture {
    static func weight(layer l: Int, expert e: Int) -> Double {
        (e + l) % 16 == 0 ? 0 : Double(1 + (7 * e + 3 * l) % 11)
    }

    static func analysis(layers: Int = 48, experts: Int = 128, m: Int = 4, tokens: Int = 40) -> SnapshotAnalysis {
        var out: [Int: LayerAnalysis] = [:]
        let k = experts * m
        for l in 0..<layers {
            let weights = (0..<experts).map { weight(layer: l, expert: $0) }
            let total = weights.reduce(0, +)
            let load = weights.map { $0 / total }
            let mean = 1 / Double(experts)
            let squares: [Double] = load.map { ($0 - mean) * ($0 - mean) }
            let cv: Double = (squares.reduce(0, +) / Double(experts)).squareRoot() / mean
            let priors: [Double] = (0..<k).map { c in weights[c / m] + Double(c % m) }
            let priorTotal = priors.reduce(0, +)
            // Token n goes to experts (n + l) mod E and (3n + l + 1) mod E with weights 0.75 / 0.25.
            var selected: [Int32] = [], weightsTK: [Float] = [], q = [Float](repeating: 0, count: tokens * experts)
            for n in 0..<tokens {
                let a: Int = (n + l) % experts
                let second: Int = (3 * n + l + 1) % experts
                let b: Int = second == a ? (a + 1) % experts : second
                selected += [Int32(a), Int32(b)]
                weightsTK += [0.75, 0.25]
                q[n * experts + a] = 0.75
                q[n * experts + b] = 0.25
            }
            let metrics = LayerMetrics(tokens: tokens, load: load, cv: cv, meanEntropyBits: 0.81, nll: -1.5 - Double(l) / 100,
                                       componentUsage: priors.map { $0 / priorTotal }, deadComponents: 0)
            var points: [(Double, Double)] = [], means: [(Double, Double)] = []
            for n in 0..<tokens {
                let x = Double(n % 8) - 3.5, y = Double(n / 8) - 2.0
                points.append((x, y))
            }
            for c in 0..<k {
                let x = Double(c % 16) / 4.0 - 2.0, y = Double((c / 16) % 16) / 4.0 - 2.0
                means.append((x, y))
            }
            out[l] = LayerAnalysis(
                layer: l, experts: experts, componentsPerExpert: m, selected: selected, weights: weightsTK, topK: 2,
                expertProbabilities: q, topComponents: [], topPosteriors: [], entropy: [Float](repeating: 0.81, count: tokens),
                logDensity: nil, reconstruction: nil, topComponent: nil,
                points: points, projection: nil,
                priors: priors.map { $0 / priorTotal },
                means: means,
                sigmas: [(Double, Double)](repeating: (0.3, 0.2), count: k), metrics: metrics)
        }
        return SnapshotAnalysis(step: 500, router: .ida, layers: out, layerOrder: Array(0..<layers))
    }

    /// A static-checkpoint state showing the analysis, with probe bytes as tokens.
    static func state(screen: Screen, width: Int = 120, height: Int = 40, layers: Int = 48, experts: Int = 128) -> InspectorState {
        var s = InspectorState(title: "synthetic/48x128", live: false)
        s.screen = screen
        s.analysis = analysis(layers: layers, experts: experts)
        s.tokens = Array("The quick brown fox jumps over the lazy dog. Pack my box.".utf8.prefix(40)).map { Int32($0) }
        s.snapshots = [500]
        s.selectedStep = 500
        s.width = width
        s.height = height
        return s
    }
}
