import Foundation

/// The baseline router: logits = W h (+ b), softmax, top-k, renormalised gates trained by the task loss.
public struct SoftmaxRouter: Sendable, Equatable {
    /// Gate layer [E, D] with optional bias [E].
    public var gate: Linear
    /// Experts per token.
    public var topK: Int

    /// What `backward` needs from `forward`.
    public struct Cache: Sendable {
        /// The router input h [N, D].
        public var input: Matrix
        /// logsumexp of each token's logits [N] (for the z-loss).
        public var logNormalizer: [Double]
    }

    /// A router over an existing gate layer.
    public init(gate: Linear, topK: Int) throws(NumericsError) {
        guard SizeLimits.within(gate.outputs, SizeLimits.experts) else {
            throw .invalidConfig("experts must be 1...\(SizeLimits.experts), got \(gate.outputs)")
        }
        guard topK >= 1, topK <= gate.outputs else {
            throw .invalidConfig("top-k must be 1...\(gate.outputs), got \(topK)")
        }
        self.gate = gate
        self.topK = topK
    }

    /// A freshly initialised router.
    public init(experts: Int, hiddenDim: Int, topK: Int, bias: Bool = false,
                rng: inout SeededGenerator) throws(NumericsError) {
        try self.init(gate: Linear(inputs: hiddenDim, outputs: experts, bias: bias, rng: &rng), topK: topK)
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
        var probs = [Double](repeating: 0, count: n * e)
        var lse = [Double](repeating: 0, count: n)
        var selected = [Int32](repeating: 0, count: n * top)
        var weights = [Float](repeating: 0, count: n * top)
        var entropy = [Double](repeating: 0, count: n)
        probs.withUnsafeMutableBufferPointer { pp in
            selected.withUnsafeMutableBufferPointer { sel in
                for r in 0..<n {
                    var peak = -Double.infinity
                    for x in 0..<e { peak = max(peak, Double(logits.data[r * e + x])) }
                    var sum = 0.0
                    for x in 0..<e {
                        let v = Foundation.exp(Double(logits.data[r * e + x]) - peak)
                        pp[r * e + x] = v
                        sum += v
                    }
                    for x in 0..<e { pp[r * e + x] /= sum }
                    lse[r] = peak + Foundation.log(sum)
                    let rowProbs = UnsafeBufferPointer(rebasing: pp[(r * e)..<((r + 1) * e)])
                    let row = UnsafeMutableBufferPointer(rebasing: sel[(r * top)..<((r + 1) * top)])
                    topKIndices(rowProbs, k: top, into: row)
                    var norm = 0.0
                    for j in 0..<top { norm += rowProbs[Int(row[j])] }
                    for j in 0..<top { weights[r * top + j] = Float(rowProbs[Int(row[j])] / norm) }
                    entropy[r] = entropyBits(rowProbs)
                }
            }
        }
        let result = RoutingResult(tokens: n, topK: top, experts: e, selected: selected, weights: weights,
                                   expertProbabilities: probs, posterior: probs, posteriorWidth: e,
                                   entropyBits: entropy, logDensity: nil, topComponent: nil,
                                   latents: nil, reconstructionError: nil)
        return (result, Cache(input: h, logNormalizer: lse))
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
