import Foundation
import Testing
import IdaNumerics
import IdaTestSupport

@Suite("Gate options: unrenormalised and scaled gates, group-limited selection")
struct GateOptionsTests {
    /// A router over one input whose gate weights are the logits (h = [1]).
    func router(logits: [Float], topK: Int, scoring: GateScoring, bias: [Float] = [],
                options: GateOptions) throws -> SoftmaxRouter {
        let w = Matrix(rows: logits.count, cols: 1, data: logits)
        return try SoftmaxRouter(gate: Linear(weight: w, bias: nil), topK: topK, scoring: scoring, selectionBias: bias,
                                 gateOptions: options)
    }

    let one = Matrix(rows: 1, cols: 1, data: [1])

    func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

    @Test("norm_topk_prob false: the gates are the selected softmax probabilities themselves, times the scale")
    func unnormalisedSoftmax() throws {
        let logits: [Float] = [2, 1, 0, -1]
        let total = logits.reduce(0.0) { $0 + exp(Double($1)) }
        let p = logits.map { exp(Double($0)) / total }
        for scale: Float in [1, 2] {
            let r = try router(logits: logits, topK: 2, scoring: .softmax, options: GateOptions(normalize: false, scale: scale))
            let result = r.route(one)
            #expect(result.selected == [0, 1])
            let check = checkTensor("weights", result.weights, [Float(p[0]) * scale, Float(p[1]) * scale], rtol: 1e-6)
            #expect(check.ok, "\(check)")
        }
    }

    @Test("routed scaling: sigmoid gates renormalised over the chosen experts, then times the scale")
    func scaledSigmoid() throws {
        let r = try router(logits: [2, 1, 0, -1], topK: 2, scoring: .sigmoid, bias: [0, 0, 0, 0.5],
                           options: GateOptions(scale: 2.5))
        let result = r.route(one)
        let s0 = sigmoid(2), s3 = sigmoid(-1)
        #expect(result.selected == [0, 3])
        let check = checkTensor("weights", result.weights, [Float(2.5 * s0 / (s0 + s3)), Float(2.5 * s3 / (s0 + s3))], rtol: 1e-6)
        #expect(check.ok, "\(check)")
    }

    // Eight experts in four groups of two. Sigmoid scores of these logits:
    // group 0 {0.881, 0.047} sums 0.928, group 1 {0.731, 0.711} 1.442, group 2 {0.622, 0.599} 1.221,
    // group 3 {0.818, 0.018} 0.836. A plain top-2 takes experts 0 and 6.
    let grouped: [Float] = [2, -3, 1, 0.9, 0.5, 0.4, 1.5, -4]

    @Test("group-limited selection (sigmoid): the best groups by the sum of their two best scores + bias, then top-k inside",
          arguments: [
              // (groupTopK, bias of expert 7, experts)
              (2, Float(0), [Int32(2), 3]),   // groups 1 and 2
              (1, Float(0), [Int32(2), 3]),   // group 1 alone
              (2, Float(0.7), [Int32(6), 2]), // expert 7's bias lifts group 3 (0.818 + 0.718) first
              (4, Float(0), [Int32(0), 6]),   // every group kept: the plain top-k
          ])
    func groupedSigmoid(groupTopK: Int, bias7: Float, expected: [Int32]) throws {
        var bias = [Float](repeating: 0, count: 8)
        bias[7] = bias7
        let r = try router(logits: grouped, topK: 2, scoring: .sigmoid, bias: bias,
                           options: GateOptions(groups: 4, groupTopK: groupTopK))
        let result = r.route(one)
        #expect(result.selected == expected)
        let s = expected.map { sigmoid(Double(grouped[Int($0)])) }
        let check = checkTensor("weights", result.weights, s.map { Float($0 / (s[0] + s[1])) }, rtol: 1e-6)
        #expect(check.ok, "\(check)")
        // The expert distribution and its entropy do not depend on the selection.
        let plain = try router(logits: grouped, topK: 2, scoring: .sigmoid, bias: bias, options: .standard).route(one)
        #expect(result.posterior == plain.posterior && result.entropyBits == plain.entropyBits)
    }

    @Test("group-limited selection (softmax): group scores from the probabilities")
    func groupedSoftmax() throws {
        // exp sums: group 0 7.44, group 1 5.18, group 2 3.14, group 3 4.50: groups 0 and 1 kept.
        let r = try router(logits: grouped, topK: 2, scoring: .softmax, options: GateOptions(groups: 4, groupTopK: 2))
        #expect(r.route(one).selected == [0, 2])
        let wide = try router(logits: grouped, topK: 2, scoring: .softmax, options: GateOptions(groups: 2, groupTopK: 1))
        // Two groups of four: {0..3} scores e^2 + e^1 (its two best), {4..7} e^1.5 + e^0.5.
        #expect(wide.route(one).selected == [0, 2])
        // Groups of one expert: a group's score is that expert's, so the kept groups are the plain top-k.
        let single = try router(logits: grouped, topK: 2, scoring: .softmax, options: GateOptions(groups: 8, groupTopK: 2))
        #expect(single.route(one).selected == [0, 6])
    }

    @Test("DeepSeek-V2's group-limited greedy: a group scores its best expert, not its two best")
    func groupScoredByItsBest() throws {
        // Best probabilities: group 0 e^2, group 1 e^1, group 2 e^0.5, group 3 e^1.5: groups 0 and 3 kept,
        // where the sum of the two best keeps groups 0 and 1.
        let best = try router(logits: grouped, topK: 2, scoring: .softmax,
                              options: GateOptions(normalize: false, groups: 4, groupTopK: 2, groupScore: .max))
        let result = best.route(one)
        #expect(result.selected == [0, 6])
        let total = grouped.reduce(0.0) { $0 + exp(Double($1)) }
        let check = checkTensor("weights", result.weights, [Float(exp(2) / total), Float(exp(1.5) / total)], rtol: 1e-6)
        #expect(check.ok, "\(check)")
        let sum = try router(logits: grouped, topK: 2, scoring: .softmax, options: GateOptions(groups: 4, groupTopK: 2))
        #expect(sum.route(one).selected == [0, 2])
    }

    @Test("a softmax router with a selection bias (Ernie 4.5): top-k by p + b, gates from p renormalised")
    func softmaxSelectionBias() throws {
        let logits: [Float] = [2, 1, 0, -1]
        let total = logits.reduce(0.0) { $0 + exp(Double($1)) }
        let p = logits.map { exp(Double($0)) / total }  // 0.644, 0.237, 0.087, 0.032
        let r = try router(logits: logits, topK: 2, scoring: .softmax, bias: [0, 0, 0, 0.5], options: .standard)
        let result = r.route(one)
        #expect(result.selected == [0, 3])  // p3 + 0.5 = 0.532 passes p1 = 0.237
        let check = checkTensor("weights", result.weights, [Float(p[0] / (p[0] + p[3])), Float(p[3] / (p[0] + p[3]))], rtol: 1e-6)
        #expect(check.ok, "\(check)")
        // The distribution is the probabilities, whatever the bias.
        #expect(zip(result.posterior, p).allSatisfy { abs($0 - $1) < 1e-12 })
    }

    @Test("a selection bias on the logits (Kolibri): top-k by l + b, which differs from s + b")
    func biasOnLogits() throws {
        let logits: [Float] = [2, 1, 0, -1], bias: [Float] = [0, 0, 0, 0.7]
        // On the scores: sigmoid(-1) + 0.7 = 0.969 > sigmoid(2) = 0.881, so expert 3 first.
        let scores = try router(logits: logits, topK: 2, scoring: .sigmoid, bias: bias, options: .standard)
        #expect(scores.route(one).selected == [3, 0])
        // On the logits: -1 + 0.7 = -0.3 stays last; gates from the sigmoids of the chosen, renormalised.
        let onLogits = try router(logits: logits, topK: 2, scoring: .sigmoid, bias: bias, options: GateOptions(biasOn: .logits))
        let result = onLogits.route(one)
        #expect(result.selected == [0, 1])
        let s0 = sigmoid(2), s1 = sigmoid(1)
        let check = checkTensor("weights", result.weights, [Float(s0 / (s0 + s1)), Float(s1 / (s0 + s1))], rtol: 1e-6)
        #expect(check.ok, "\(check)")
    }

    @Test("tied group scores keep the lower group")
    func groupTies() throws {
        let r = try router(logits: [1, 0, 0, 1, 3, -9], topK: 1, scoring: .softmax, options: GateOptions(groups: 3, groupTopK: 1))
        // Groups 0 and 1 both sum e^1 + e^0; group 2 sums e^3 + e^-9, the best.
        #expect(r.route(one).selected == [4])
        let tied = try router(logits: [1, 0, 0, 1, -5, -9], topK: 2, scoring: .softmax, options: GateOptions(groups: 3, groupTopK: 1))
        #expect(tied.route(one).selected == [0, 1])
    }

    @Test("backward vs finite differences with unrenormalised or scaled gates",
          arguments: [GateScoring.softmax, .sigmoid],
          [GateOptions(normalize: false), GateOptions(scale: 2.5), GateOptions(normalize: false, scale: 0.5, groups: 5, groupTopK: 3)])
    func gradients(scoring: GateScoring, options: GateOptions) throws {
        var rng = SeededGenerator(seed: 31)
        var router = try SoftmaxRouter(experts: 10, hiddenDim: 4, topK: 2, scoring: scoring, selectionBias: scoring == .sigmoid, rng: &rng)
        router.gateOptions = options
        if scoring == .sigmoid { router.selectionBias = (0..<10).map { Float($0 % 3) * 0.1 } }
        let h = randomMatrix(rows: 6, cols: 4, scale: 2, seed: 4)
        let c = randomMatrix(rows: 6, cols: 2, seed: 9).data
        var analytic = router
        let (result, cache) = analytic.forward(h)
        let dh = analytic.backward(gateGrad: c, result: result, cache: cache, losses: SoftmaxLossWeights())
        func loss(_ r: SoftmaxRouter, _ x: Matrix) -> Double {
            let routed = r.route(x)
            precondition(routed.selected == result.selected, "finite-difference step changed the top-k choice")
            return zip(c, routed.weights).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        let numericW = finiteDifferences(router.gate.weight.data, epsilon: 1e-3) { values in
            var r = router
            r.gate.weight.data = values
            return loss(r, h)
        }
        let checkW = checkTensor("gate.weight", analytic.gate.gradWeight.data, numericW.map(Float.init), rtol: 1e-2, atol: 1e-3)
        #expect(checkW.ok, "\(checkW)")
        let numericH = finiteDifferences(h.data, epsilon: 1e-3) { values in loss(router, Matrix(rows: 6, cols: 4, data: values)) }
        let checkH = checkTensor("dh", dh.data, numericH.map(Float.init), rtol: 1e-2, atol: 1e-3)
        #expect(checkH.ok, "\(checkH)")
    }

    @Test("options that cannot route are refused, naming the option")
    func refusals() throws {
        let cases: [(GateOptions, GateOptions.Field, String)] = [
            (GateOptions(scale: 0), .scale, "finite and positive"),
            (GateOptions(scale: .nan), .scale, "finite and positive"),
            (GateOptions(groups: 3), .groups, "do not divide 8 experts"),
            (GateOptions(groups: 0), .groups, "do not divide"),
            (GateOptions(groups: 4, groupTopK: 0), .groupTopK, "1...4"),
            (GateOptions(groups: 4, groupTopK: 5), .groupTopK, "1...4"),
            (GateOptions(groups: 8, groupTopK: 2), .groupTopK, "fewer than top-k 3"),
        ]
        for (options, field, needle) in cases {
            let problem = try #require(options.problem(experts: 8, topK: 3))
            #expect(problem.field == field && problem.message.contains(needle), "\(problem)")
            #expect(throws: NumericsError.self) { try router(logits: [Float](repeating: 0, count: 8), topK: 3, scoring: .softmax, options: options) }
        }
        #expect(GateOptions(groups: 4, groupTopK: 2).problem(experts: 8, topK: 4) == nil)
        #expect(GateOptions.standard.problem(experts: 8, topK: 8) == nil)
    }
}
