import Foundation

/// How a linear gate turns its logits into expert scores.
public enum GateScoring: String, NamedChoice {
    /// softmax over experts (Switch, Mixtral): scores sum to 1.
    case softmax
    /// An independent sigmoid per expert (DeepSeek-V3): scores in (0, 1), normalised over the
    /// selected experts for the gates and over all experts for the entropy.
    case sigmoid
}

/// The baseline routers: logits = W h (+ b), scores by softmax or sigmoid, top-k, renormalised gates
/// trained by the task loss (`gateOptions`: unrenormalised or scaled gates, group-limited top-k). With a
/// selection bias (the `sigmoid-bias` router, auxiliary-loss-free balancing as in DeepSeek-V3; a softmax
/// router's, as Ernie 4.5's) top-k picks by score + bias_e (or logit + bias_e) while the gates use the scores alone;
/// the bias is not trained by gradients but moved toward balance after each step
/// (`updateSelectionBias`).
public struct SoftmaxRouter: Sendable, Equatable {
    /// Gate layer [E, D] with optional bias [E].
    public var gate: Linear
    /// Experts per token.
    public var topK: Int
    /// Softmax or sigmoid scores.
    public var scoring: GateScoring
    /// Per-expert bias added to the scores for the top-k choice only [E], or empty for none.
    public var selectionBias: [Float] {
        didSet { if !selectionBias.isEmpty { hasSelectionBias = true } }
    }
    /// Whether the router has had a selection bias: what `visitParameters` visits must not depend on
    /// the arrays' contents (passes take them out and put them back), so emptying it does not unset this.
    public private(set) var hasSelectionBias: Bool
    /// Gate normalisation and scale, group-limited selection (defaults: the contract's original routing).
    public var gateOptions: GateOptions

    /// What `backward` needs from `forward`.
    public struct Cache: Sendable {
        /// The router input h [N, D].
        public var input: Matrix
        /// logsumexp of each token's logits [N] (for the z-loss; zeros for sigmoid scores).
        public var logNormalizer: [Double]
        /// The sigmoid scores s [N, E] (sigmoid scoring only; softmax probabilities are the posterior).
        public var scores: [Double]
    }

    /// A router over an existing gate layer; `selectionBias` [E] or empty.
    public init(gate: Linear, topK: Int, scoring: GateScoring = .softmax, selectionBias: [Float] = [],
                gateOptions: GateOptions = .standard) throws(NumericsError) {
        guard SizeLimits.within(gate.outputs, SizeLimits.experts) else {
            throw .invalidConfig("experts must be 1...\(SizeLimits.experts), got \(gate.outputs)")
        }
        guard topK >= 1, topK <= gate.outputs else {
            throw .invalidConfig("top-k must be 1...\(gate.outputs), got \(topK)")
        }
        guard selectionBias.isEmpty || selectionBias.count == gate.outputs else {
            throw .invalidConfig("selection bias has \(selectionBias.count) values for \(gate.outputs) experts")
        }
        guard selectionBias.allSatisfy(\.isFinite) else { throw .invalidConfig("selection bias is not finite") }
        if let problem = gateOptions.problem(experts: gate.outputs, topK: topK) { throw .invalidConfig(problem.message) }
        self.gate = gate
        self.topK = topK
        self.scoring = scoring
        self.selectionBias = selectionBias
        self.hasSelectionBias = !selectionBias.isEmpty
        self.gateOptions = gateOptions
    }

    /// A freshly initialised router; `selectionBias` starts every expert's bias at 0.
    public init(experts: Int, hiddenDim: Int, topK: Int, bias: Bool = false, scoring: GateScoring = .softmax,
                selectionBias: Bool = false, rng: inout SeededGenerator) throws(NumericsError) {
        try self.init(gate: Linear(inputs: hiddenDim, outputs: experts, bias: bias, rng: &rng), topK: topK,
                      scoring: scoring, selectionBias: selectionBias ? [Float](repeating: 0, count: experts) : [])
    }

    /// Experts E.
    public var experts: Int { gate.outputs }
    /// Hidden width D.
    public var hiddenDim: Int { gate.inputs }

    /// Routes h [N, D].
    public func route(_ h: Matrix) -> RoutingResult { forward(h).0 }

    /// Routes h [N, D] and keeps what `backward` needs.
    public func forward(_ h: Matrix) -> (RoutingResult, Cache) {
        precondition(h.cols == hiddenDim, "router expects hidden width \(hiddenDim), got \(h.cols)")
        let n = h.rows, e = experts, top = topK
        let logits = gate.forward(h)
        if scoring == .sigmoid {
            let (result, scores) = sigmoidForward(logits)
            return (result, Cache(input: h, logNormalizer: [Double](repeating: 0, count: n), scores: scores))
        }
        var scratch = GroupScratch(experts: e, options: gateOptions)
        let bias = selectionBias, onLogits = gateOptions.biasOn == .logits
        let probs = PinnedMutableBuffer<Double>(repeating: 0, count: n * e)
        let logNormalizer = PinnedMutableBuffer<Double>(repeating: 0, count: n)
        let selected = PinnedMutableBuffer<Int32>(repeating: 0, count: n * top)
        let weights = PinnedMutableBuffer<Float>(repeating: 0, count: n * top)
        let entropy = PinnedMutableBuffer<Double>(repeating: 0, count: n)
        let biased = PinnedMutableBuffer<Double>(repeating: 0, count: bias.isEmpty ? 0 : e)
        withPinned(probs, logNormalizer, selected, weights, entropy, biased) {
            let probs = probs.buffer                  // [N, E] softmax probabilities
            let logNormalizer = logNormalizer.buffer  // [N] logsumexp of the logits
            let selected = selected.buffer            // [N, k] chosen experts, best first
            let weights = weights.buffer              // [N, k] gate weights
            let entropy = entropy.buffer              // [N] bits
            let biased = biased.buffer                // [E] with a selection bias (Ernie 4.5): the row's selection scores
            for r in 0..<n {
                var peak = -Double.infinity
                for x in 0..<e { peak = max(peak, Double(logits.data[r * e + x])) }
                var sum = 0.0
                for x in 0..<e {
                    let v = Foundation.exp(Double(logits.data[r * e + x]) - peak)
                    probs[r * e + x] = v
                    sum += v
                }
                for x in 0..<e { probs[r * e + x] /= sum }
                logNormalizer[r] = peak + Foundation.log(sum)
                let rowProbs = UnsafeBufferPointer(rebasing: probs[(r * e)..<((r + 1) * e)])
                let row = UnsafeMutableBufferPointer(rebasing: selected[(r * top)..<((r + 1) * top)])
                if bias.isEmpty {
                    selectExperts(rowProbs, into: row, scratch: &scratch)
                } else {
                    for x in 0..<e { biased[x] = (onLogits ? Double(logits.data[r * e + x]) : rowProbs[x]) + Double(bias[x]) }
                    selectExperts(UnsafeBufferPointer(biased), into: row, scratch: &scratch)
                }
                gateWeights(rowProbs, selected: UnsafeBufferPointer(row),
                            into: UnsafeMutableBufferPointer(rebasing: weights[(r * top)..<((r + 1) * top)]))
                entropy[r] = entropyBits(rowProbs)
            }
        }
        let posterior = probs.take()
        let result = RoutingResult(tokens: n, topK: top, experts: e, selected: selected.take(), weights: weights.take(),
                                   expertProbabilities: posterior, posterior: posterior, posteriorWidth: e,
                                   entropyBits: entropy.take(), logDensity: nil, topComponent: nil,
                                   latents: nil, reconstructionError: nil)
        return (result, Cache(input: h, logNormalizer: logNormalizer.take(), scores: []))
    }

    /// Sigmoid scores s = sigmoid(logits), top-k by s + selection bias (or logit + bias with `biasOn`
    /// `logits`, Kolibri) within the eligible groups, gates
    /// from the selected s (`gateWeights`); the expert distribution (entropy, posterior) is s normalised
    /// over all experts.
    func sigmoidForward(_ logits: Matrix) -> (RoutingResult, [Double]) {
        let n = logits.rows, e = experts, top = topK
        var scratch = GroupScratch(experts: e, options: gateOptions)
        let bias = selectionBias, onLogits = gateOptions.biasOn == .logits
        let scores = PinnedMutableBuffer<Double>(repeating: 0, count: n * e)
        let probs = PinnedMutableBuffer<Double>(repeating: 0, count: n * e)
        let selected = PinnedMutableBuffer<Int32>(repeating: 0, count: n * top)
        let weights = PinnedMutableBuffer<Float>(repeating: 0, count: n * top)
        let entropy = PinnedMutableBuffer<Double>(repeating: 0, count: n)
        let biased = PinnedMutableBuffer<Double>(repeating: 0, count: e)
        withPinned(scores, probs, selected, weights, entropy, biased) {
            let scores = scores.buffer      // [N, E] sigmoid scores
            let probs = probs.buffer        // [N, E] scores normalised over the experts
            let selected = selected.buffer  // [N, k] chosen experts, best first
            let weights = weights.buffer    // [N, k] gate weights
            let entropy = entropy.buffer    // [N] bits
            let biased = biased.buffer      // [E] the row's selection scores, score + bias
            for r in 0..<n {
                var total = 0.0
                for x in 0..<e {
                    let s = 1 / (1 + Foundation.exp(-Double(logits.data[r * e + x])))
                    scores[r * e + x] = s
                    total += s
                    biased[x] = bias.isEmpty ? s : (onLogits ? Double(logits.data[r * e + x]) : s) + Double(bias[x])
                }
                for x in 0..<e { probs[r * e + x] = scores[r * e + x] / total }
                let row = UnsafeMutableBufferPointer(rebasing: selected[(r * top)..<((r + 1) * top)])
                selectExperts(UnsafeBufferPointer(biased), into: row, scratch: &scratch)
                gateWeights(UnsafeBufferPointer(rebasing: scores[(r * e)..<((r + 1) * e)]), selected: UnsafeBufferPointer(row),
                            into: UnsafeMutableBufferPointer(rebasing: weights[(r * top)..<((r + 1) * top)]))
                entropy[r] = entropyBits(UnsafeBufferPointer(rebasing: probs[(r * e)..<((r + 1) * e)]))
            }
        }
        let posterior = probs.take()
        let result = RoutingResult(tokens: n, topK: top, experts: e, selected: selected.take(), weights: weights.take(),
                                   expertProbabilities: posterior, posterior: posterior, posteriorWidth: e,
                                   entropyBits: entropy.take(), logDensity: nil, topComponent: nil,
                                   latents: nil, reconstructionError: nil)
        return (result, scores.take())
    }

    /// Auxiliary-loss-free balancing: after a step, bias_e += rate where expert e took less than its
    /// fair share of the batch's N*k assignments and -= rate where it took more (unchanged at exactly
    /// the fair share). Does nothing without a selection bias.
    public mutating func updateSelectionBias(_ result: RoutingResult, rate: Float) {
        guard !selectionBias.isEmpty, result.tokens > 0 else { return }
        var counts = [Int](repeating: 0, count: experts)
        for s in result.selected { counts[Int(s)] += 1 }
        // Compare counts with the fair count in integers: exact, whatever N * k is.
        let assignments = result.tokens * result.topK
        for x in 0..<experts {
            let scaled = counts[x] * experts
            if scaled < assignments { selectionBias[x] += rate } else if scaled > assignments { selectionBias[x] -= rate }
        }
    }

    /// Switch-style balance term E * sum_e f_e P_e (unweighted): f_e = share of the N*k assignments to e,
    /// P_e = mean router probability of e. Equals 1 when routing is uniform.
    public func auxiliaryLoss(_ result: RoutingResult) -> Double {
        let (f, meanProb) = balanceStatistics(result)
        var total = 0.0
        for x in 0..<experts { total += f[x] * meanProb[x] }
        return Double(experts) * total
    }

    /// The z-loss mean_n (logsumexp of logits)^2 (unweighted).
    public func zLoss(_ cache: Cache) -> Double {
        guard !cache.logNormalizer.isEmpty else { return 0 }
        return cache.logNormalizer.reduce(0) { $0 + $1 * $1 } / Double(cache.logNormalizer.count)
    }

    func balanceStatistics(_ result: RoutingResult) -> (f: [Double], meanProb: [Double]) {
        let n = result.tokens, e = experts
        var f = [Double](repeating: 0, count: e)
        var meanProb = [Double](repeating: 0, count: e)
        guard n > 0 else { return (f, meanProb) }
        for s in result.selected { f[Int(s)] += 1 / Double(n * result.topK) }
        for r in 0..<n { for x in 0..<e { meanProb[x] += result.posterior[r * e + x] / Double(n) } }
        return (f, meanProb)
    }
}
