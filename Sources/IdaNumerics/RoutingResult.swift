import Foundation

/// The routing of a block of N tokens through one router.
public struct RoutingResult: Sendable {
    /// Tokens N.
    public var tokens: Int
    /// Experts per token k.
    public var topK: Int
    /// Experts E.
    public var experts: Int
    /// Chosen experts [N, k], best first.
    public var selected: [Int32]
    /// Gate weights [N, k], summing to 1 per token.
    public var weights: [Float]
    /// Expert distribution q [N, E]: summed component posteriors (IDA) or softmax probabilities.
    public var expertProbabilities: [Double]
    /// Posterior over what the router scores [N, K] (IDA components) or [N, E] (softmax experts).
    public var posterior: [Double]
    /// Width of a posterior row: K or E.
    public var posteriorWidth: Int
    /// Routing entropy -sum_e q_e log2 q_e [N], in bits.
    public var entropyBits: [Double]
    /// log p(z) [N] (IDA only).
    public var logDensity: [Double]?
    /// Most probable component [N] (IDA only).
    public var topComponent: [Int32]?
    /// Latents z [N, P] (IDA only).
    public var latents: Matrix?
    /// Mean squared reconstruction error per token [N] (IDA only, when asked for).
    public var reconstructionError: [Float]?
    /// Components ranked per token (0: none): `rankedComponents` [N, ranked] holds each token's most
    /// probable components, best first, ties to the lower index, -1 past K; `rankedPosteriors`
    /// [N, ranked] their posteriors (0 for -1). IDA only, when asked for; kept without the N x K posteriors.
    public var ranked = 0
    public var rankedComponents: [Int32] = []
    public var rankedPosteriors: [Float] = []

    /// A routing from its parts (shapes as documented on each property).
    public init(tokens: Int, topK: Int, experts: Int, selected: [Int32], weights: [Float],
                expertProbabilities: [Double], posterior: [Double], posteriorWidth: Int, entropyBits: [Double],
                logDensity: [Double]?, topComponent: [Int32]?, latents: Matrix?, reconstructionError: [Float]?) {
        self.tokens = tokens
        self.topK = topK
        self.experts = experts
        self.selected = selected
        self.weights = weights
        self.expertProbabilities = expertProbabilities
        self.posterior = posterior
        self.posteriorWidth = posteriorWidth
        self.entropyBits = entropyBits
        self.logDensity = logDensity
        self.topComponent = topComponent
        self.latents = latents
        self.reconstructionError = reconstructionError
    }
}

/// Indices of the k largest scores, best first; equal scores go to the lower index; NaN never wins
/// over a number; slots beyond the number of scores hold -1. One pass over the scores.
@inlinable
public func topKIndices<T: BinaryFloatingPoint>(_ scores: UnsafeBufferPointer<T>, k: Int, into out: UnsafeMutableBufferPointer<Int32>) {
    // The k best so far, best first: a later index enters only when strictly greater, so ties keep
    // the lower index.
    guard k > 0 else { return }
    withUnsafeTemporaryAllocation(of: T.self, capacity: k) { kept in
        var filled = 0
        for e in 0..<scores.count {
            let value = scores[e].isNaN ? -T.infinity : scores[e]
            if filled == k && !(value > kept[k - 1]) { continue }
            var slot = min(filled, k - 1)
            while slot > 0 && value > kept[slot - 1] {
                kept[slot] = kept[slot - 1]
                out[slot] = out[slot - 1]
                slot -= 1
            }
            kept[slot] = value
            out[slot] = Int32(e)
            filled = min(filled + 1, k)
        }
        for slot in filled..<k { out[slot] = -1 }
    }
}

/// One token's most probable components: `slots.count` indices by `topKIndices` over `weights` (its
/// posteriors, or numerators proportional to them) and their posteriors, weight times `scale`, as
/// Float (0 where a slot holds -1). The one rule for `RoutingResult.rankedComponents`.
@inlinable
public func rankComponents<T: BinaryFloatingPoint>(_ weights: UnsafeBufferPointer<T>, scale: Double,
                                                   into slots: UnsafeMutableBufferPointer<Int32>,
                                                   posteriors: UnsafeMutableBufferPointer<Float>) {
    topKIndices(weights, k: slots.count, into: slots)
    for j in slots.indices {
        posteriors[j] = slots[j] < 0 ? 0 : Float(Double(weights[Int(slots[j])]) * scale)
    }
}

/// The IDA gate rule for one token: the k best experts by `scores` into `selected` (best first, ties
/// to the lower index) and their scores renormalised to sum 1 into `weights[0..<k]`; with a gate
/// temperature T != 1, their scores to the power 1/T renormalised (taken in logs from the best, so
/// tiny scores do not underflow; a zero score keeps weight 0).
@inlinable
public func chooseExperts(_ scores: UnsafeBufferPointer<Double>, into selected: UnsafeMutableBufferPointer<Int32>,
                          weights: UnsafeMutableBufferPointer<Float>, temperature: Double = 1) {
    topKIndices(scores, k: selected.count, into: selected)
    if temperature == 1 {
        var norm = 0.0
        for j in selected.indices { norm += scores[Int(selected[j])] }
        for j in selected.indices { weights[j] = Float(scores[Int(selected[j])] / norm) }
        return
    }
    let best = Foundation.log(scores[Int(selected[0])])
    var norm = 0.0
    for j in selected.indices {
        let s = scores[Int(selected[j])]
        norm += s > 0 ? Foundation.exp((Foundation.log(s) - best) / temperature) : 0
    }
    for j in selected.indices {
        let s = scores[Int(selected[j])]
        weights[j] = s > 0 ? Float(Foundation.exp((Foundation.log(s) - best) / temperature) / norm) : 0
    }
}

/// -sum p log2 p over a distribution, with 0 log 0 = 0 (`VectorMath.entropyBits`).
@inlinable
public func entropyBits(_ p: UnsafeBufferPointer<Double>) -> Double {
    guard let base = p.baseAddress else { return 0 }
    return VectorMath.entropyBits(base, count: p.count)
}
