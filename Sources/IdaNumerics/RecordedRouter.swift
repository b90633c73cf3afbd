import Foundation

/// Routing decisions another program recorded (a Megatron router trace, SGLang's per-token records,
/// vLLM's routed experts): no weights to route with, only the experts each token went to and, when
/// recorded, the gate weights and the router's logits (docs/format.md, "Recorded routings").
public struct RecordedRouter: Sendable, Equatable {
    /// Experts E.
    public var experts: Int
    /// Experts per token k, as recorded.
    public var topK: Int

    /// A recorded router over `experts` experts choosing `topK` each.
    public init(experts: Int, topK: Int) {
        self.experts = experts
        self.topK = topK
    }

    /// The routing of `tokens` recorded rows: `selected` [N, k] (each in 0..<E), `weights` [N, k] or nil
    /// (then each chosen expert weighs 1/k), `logits` [N, E] or nil. The expert distribution q is the
    /// softmax of the logits when they were recorded, else the gate weights spread over the chosen
    /// experts; the entropy is q's.
    public func result(tokens n: Int, selected: [Int32], weights: [Float]?, logits: [Float]?) -> RoutingResult {
        let k = topK, e = experts
        let gates = weights ?? [Float](repeating: 1 / Float(k), count: n * k)
        var q = [Double](repeating: 0, count: n * e)
        var entropy = [Double](repeating: 0, count: n)
        for row in 0..<n {
            let base = row * e
            if let logits {
                var top = -Double.infinity
                for j in 0..<e { top = max(top, Double(logits[base + j])) }
                var sum = 0.0
                for j in 0..<e {
                    let v = Foundation.exp(Double(logits[base + j]) - top)
                    q[base + j] = v
                    sum += v
                }
                for j in 0..<e { q[base + j] /= sum }
            } else {
                var sum = 0.0
                for j in 0..<k { sum += Double(gates[row * k + j]) }
                for j in 0..<k where sum > 0 { q[base + Int(selected[row * k + j])] += Double(gates[row * k + j]) / sum }
            }
            var h = 0.0
            for j in 0..<e where q[base + j] > 0 { h -= q[base + j] * Foundation.log2(q[base + j]) }
            entropy[row] = h
        }
        return RoutingResult(tokens: n, topK: k, experts: e, selected: selected, weights: gates, expertProbabilities: q,
                             posterior: q, posteriorWidth: e, entropyBits: entropy, logDensity: nil, topComponent: nil,
                             latents: nil, reconstructionError: nil)
    }
}
