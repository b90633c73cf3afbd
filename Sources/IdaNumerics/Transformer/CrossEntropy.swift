import Foundation

/// Mean token cross-entropy of logits against target ids, with its gradient.
public enum CrossEntropy {
    /// loss = mean_n (logsumexp(logits_n) - logits_n[target_n]) for logits [N, V] and targets [N]
    /// (ids in 0..<V), and dLogits [N, V] = (softmax(logits) - onehot(targets)) / N.
    ///
    /// One pass per row: the shifted exponentials are written straight into dLogits and scaled
    /// in place, so no separate matrix of probabilities is built.
    public static func forward(logits: Matrix, targets: [Int32]) -> (loss: Double, dLogits: Matrix) {
        let n = logits.rows, v = logits.cols
        precondition(targets.count == n, "cross-entropy has \(n) rows and \(targets.count) targets")
        var dLogits = Matrix(rows: n, cols: v)
        guard n > 0, v > 0 else { return (0, dLogits) }
        let invN = 1 / Float(n)
        var total = 0.0
        logits.data.withUnsafeBufferPointer { pl in
            dLogits.data.withUnsafeMutableBufferPointer { pd in
                for r in 0..<n {
                    let base = r * v, target = Int(targets[r])
                    precondition(target >= 0 && target < v, "target \(target) outside 0..<\(v)")
                    var peak = -Float.infinity
                    for c in 0..<v { peak = max(peak, pl[base + c]) }
                    var sum: Float = 0
                    for c in 0..<v {
                        let e = Foundation.exp(pl[base + c] - peak)
                        pd[base + c] = e
                        sum += e
                    }
                    // loss_n = log(sum) + peak - logit[target]: stable for any logit scale.
                    total += Double(Foundation.log(sum)) + Double(peak) - Double(pl[base + target])
                    let scale = invN / sum
                    for c in 0..<v { pd[base + c] *= scale }
                    pd[base + target] -= invN
                }
            }
        }
        return (total / Double(n), dLogits)
    }
}
