import Foundation
import Testing
import IdaNumerics
import IdaTestSupport

/// A router whose GMM sits on hand-placed means in a 2-d latent with identity encoder-like behaviour:
/// encoder = one Linear with identity weights (D = P = 2), decoder likewise.
func identityRouter(means: [[Float]], logits: [Float], experts: Int, perExpert: Int, topK: Int = 2,
                    score: ExpertScore = .max) throws -> IDARouter {
    let config = RouterConfig(experts: experts, componentsPerExpert: perExpert, latentDim: 2, topK: topK,
                              activation: .relu, expertScore: score, inputNorm: .none,
                              logVarMin: -10, logVarMax: 10)
    let eye = Linear(weight: Matrix(rows: 2, cols: 2, data: [1, 0, 0, 1]), bias: [0, 0])
    let k = means.count
    let gmm = DiagonalGMM(logits: logits, means: Matrix(rows: k, cols: 2, data: means.flatMap { $0 }),
                          logVars: Matrix(rows: k, cols: 2), logVarMin: -10, logVarMax: 10)
    return try IDARouter(config: config, encoder: MLP(layers: [eye], activation: .relu),
                         decoder: MLP(layers: [eye], activation: .relu), gmm: gmm)
}

@Suite("IDA routing decisions")
struct RoutingDecisionTests {
    @Test("log-density of one unit Gaussian is the closed form")
    func closedForm() throws {
        let router = try identityRouter(means: [[0, 0]], logits: [0], experts: 1, perExpert: 1, topK: 1)
        let result = router.route(Matrix(rows: 1, cols: 2, data: [1, 2]))
        let expected = -0.5 * (1 + 4) - log(2 * Double.pi)
        #expect(abs((result.logDensity?[0] ?? 0) - expected) < 1e-12)
        #expect(result.posterior == [1])
        #expect(result.entropyBits == [0])
    }

    @Test("expert score max vs sum picks different experts")
    func maxVersusSum() throws {
        // Expert 0 has one component right on the token; expert 1 has two components a bit further away
        // whose posteriors add up to more than expert 0's single one.
        let means: [[Float]] = [[0, 0], [50, 50], [1, 0], [-1, 0]]
        let h = Matrix(rows: 1, cols: 2, data: [0, 0])
        let maxRouter = try identityRouter(means: means, logits: [0, 0, 0, 0], experts: 2, perExpert: 2, topK: 1)
        let sumRouter = try identityRouter(means: means, logits: [0, 0, 0, 0], experts: 2, perExpert: 2, topK: 1, score: .sum)
        #expect(maxRouter.route(h).selected == [0])
        #expect(sumRouter.route(h).selected == [1])
    }

    @Test("gates are the selected expert scores renormalised; q sums components")
    func gatesAndQ() throws {
        let router = try identityRouter(means: [[0, 0], [3, 0], [0, 3], [3, 3], [-3, 0], [0, -3]],
                                        logits: [0, 0.5, -0.5, 0, 1, 0], experts: 3, perExpert: 2)
        let result = router.route(randomMatrix(rows: 20, cols: 2, scale: 2, seed: 2))
        for r in 0..<20 {
            let post = Array(result.posterior[(r * 6)..<(r * 6 + 6)])
            let q = (0..<3).map { post[2 * $0] + post[2 * $0 + 1] }
            let g = (0..<3).map { max(post[2 * $0], post[2 * $0 + 1]) }
            let order = (0..<3).sorted { g[$0] > g[$1] || (g[$0] == g[$1] && $0 < $1) }
            #expect(result.selected[(r * 2)..<(r * 2 + 2)].map(Int.init) == Array(order.prefix(2)))
            let norm = g[order[0]] + g[order[1]]
            #expect(abs(Double(result.weights[r * 2]) - g[order[0]] / norm) < 1e-6)
            let check = checkTensor("q", Array(result.expertProbabilities[(r * 3)..<(r * 3 + 3)]), q, rtol: 1e-12)
            #expect(check.ok, "\(check)")
            #expect(abs(post.reduce(0, +) - 1) < 1e-12)
        }
    }

    @Test("far-away token: finite density, one component takes everything")
    func farAway() throws {
        let router = try identityRouter(means: [[0, 0], [1, 0], [0, 1], [1, 1]], logits: [0, 0, 0, 0],
                                        experts: 2, perExpert: 2)
        let result = router.route(Matrix(rows: 1, cols: 2, data: [1e4, 1e4]))
        let density = result.logDensity?[0] ?? .nan
        #expect(density.isFinite && density < -1e7)
        #expect(result.topComponent == [3])
        #expect(result.selected == [1, 0])
        #expect(result.weights[0] == 1 && result.weights[1] == 0)
    }

    @Test("coefficient of variation known values")
    func cv() {
        #expect(LayerMetrics.coefficientOfVariation([0.25, 0.25, 0.25, 0.25]) == 0)
        // load [1, 0, 0, 0]: mean 1/4, population std sqrt(3)/4 -> CV sqrt(3)
        #expect(abs(LayerMetrics.coefficientOfVariation([1, 0, 0, 0]) - 3.0.squareRoot()) < 1e-12)
    }
}
