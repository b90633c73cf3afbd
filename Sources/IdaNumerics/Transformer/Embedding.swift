/// A token embedding table: row `t` of `weight` is the vector of token id `t`.
public struct Embedding: Sendable, Equatable {
    /// Token vectors [V, D].
    public var weight: Matrix
    /// Gradient of the loss with respect to `weight` [V, D].
    public var gradWeight: Matrix

    /// A table over existing vectors [V, D], with zero gradients.
    public init(weight: Matrix) {
        self.weight = weight
        self.gradWeight = Matrix(rows: weight.rows, cols: weight.cols)
    }

    /// A table drawn from N(0, std^2) (GPT-2 uses std 0.02).
    public init(vocab: Int, width: Int, std: Float = 0.02, rng: inout SeededGenerator) {
        var w = Matrix(rows: vocab, cols: width)
        for i in w.data.indices { w.data[i] = std * rng.normal() }
        self.init(weight: w)
    }

    /// Vocabulary size V.
    public var vocab: Int { weight.rows }
    /// Vector width D.
    public var width: Int { weight.cols }

    /// The rows of `weight` for `tokens` [N]: out [N, D]. Ids must be in 0..<V (callers validate).
    public func forward(tokens: [Int32]) -> Matrix {
        let d = width, v = vocab
        var out = Matrix(rows: tokens.count, cols: d)
        weight.data.withUnsafeBufferPointer { pw in
            out.data.withUnsafeMutableBufferPointer { po in
                guard let src = pw.baseAddress, let dst = po.baseAddress else { return }
                for (n, token) in tokens.enumerated() {
                    let t = Int(token)
                    precondition(t >= 0 && t < v, "token id \(t) outside 0..<\(v)")
                    (dst + n * d).update(from: src + t * d, count: d)
                }
            }
        }
        return out
    }

    /// Scatter-adds dOut [N, D] into the rows of `gradWeight` named by `tokens` [N].
    public mutating func backward(_ dOut: Matrix, tokens: [Int32]) {
        precondition(dOut.rows == tokens.count && dOut.cols == width, "embedding gradient shape mismatch")
        let d = width, v = vocab
        dOut.data.withUnsafeBufferPointer { pd in
            gradWeight.data.withUnsafeMutableBufferPointer { pg in
                for (n, token) in tokens.enumerated() {
                    let t = Int(token)
                    precondition(t >= 0 && t < v, "token id \(t) outside 0..<\(v)")
                    let src = n * d, dst = t * d
                    for c in 0..<d { pg[dst + c] += pd[src + c] }
                }
            }
        }
    }

    /// Sets the gradient to zero.
    public mutating func zeroGrad() { gradWeight.zero() }

    /// Visits `prefix.weight` [V, D].
    public mutating func visitParameters(prefix: String, _ body: ParameterVisitor) {
        body("\(prefix).weight", [vocab, width], &weight.data, &gradWeight.data)
    }
}
