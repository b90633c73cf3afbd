import Foundation

/// Mean token cross-entropy of logits against target ids, with its gradient.
public enum CrossEntropy {
    /// loss = mean_n (logsumexp(logits_n) - logits_n[target_n]) for logits [N, V] and targets [N]
    /// (ids in 0..<V), and dLogits [N, V] = (softmax(logits) - onehot(targets)) / N.
    ///
    /// One pass per row: the shifted exponentials are written straight into dLogits and scaled
    /// in place, so no separate matrix of probabilities is built.
    ///
    /// `batchTokens` (default N) divides the gradient instead of N: a micro-batch of a larger batch
    /// passes the whole batch's token count, so the micro-batches' gradients add up to the batch's.
    /// The loss returned is always this call's own mean.
    public static func forward(logits: Matrix, targets: [Int32], batchTokens: Int? = nil) -> (loss: Double, dLogits: Matrix) {
        let n = logits.rows, v = logits.cols
        precondition(targets.count == n, "cross-entropy has \(n) rows and \(targets.count) targets")
        var dLogits = Matrix(uninitializedRows: n, cols: v)  // every row is written below
        guard n > 0, v > 0 else { return (0, dLogits) }
        let invN = 1 / Float(batchTokens ?? n)
        var total = 0.0
        logits.data.withUnsafeBufferPointer { pl in
            dLogits.data.withUnsafeMutableBufferPointer { pd in
                guard let logitBase = pl.baseAddress, let gradBase = pd.baseAddress else { return }
                for r in 0..<n {
                    let row = logitBase + r * v, grad = gradBase + r * v, target = Int(targets[r])
                    precondition(target >= 0 && target < v, "target \(target) outside 0..<\(v)")
                    var peak = -Float.infinity
                    for c in 0..<v { peak = max(peak, row[c]) }
                    // Vectorised exp (docs/decisions.md, "Vectorised exp, erf and exact GELU"), then a fixed-order sum.
                    VectorMath.expShifted(row, into: grad, shift: peak, count: v)
                    let sum = Elementwise.sum(UnsafePointer(grad), v)
                    // loss_n = log(sum) + peak - logit[target]: stable for any logit scale.
                    total += Double(Foundation.log(sum)) + Double(peak) - Double(row[target])
                    let scale = invN / sum
                    for c in 0..<v { grad[c] *= scale }
                    grad[target] -= invN
                }
            }
        }
        return (total / Double(n), dLogits)
    }
}
