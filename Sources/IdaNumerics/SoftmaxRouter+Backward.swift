/// Weights of the softmax router's extra losses.
public struct SoftmaxLossWeights: Sendable, Equatable {
    /// alpha of the auxiliary balance loss (0 turns it off).
    public var auxiliary: Double
    /// beta of the z-loss (0 turns it off).
    public var z: Double
    /// For a micro-batch of a larger batch: its share of the batch's tokens (scales the auxiliary and
    /// z-loss gradients, which are means over the batch) and the whole batch's assignment shares f
    /// [E] (the auxiliary loss holds f constant at the batch's value). nil: this call is the batch.
    public var batch: (tokenShare: Double, assignmentShare: [Double])?

    /// Weights of the auxiliary and z losses.
    public init(auxiliary: Double = 0, z: Double = 0) {
        self.auxiliary = auxiliary
        self.z = z
    }

    public static func == (a: SoftmaxLossWeights, b: SoftmaxLossWeights) -> Bool {
        a.auxiliary == b.auxiliary && a.z == b.z && a.batch?.tokenShare == b.batch?.tokenShare
            && a.batch?.assignmentShare == b.batch?.assignmentShare
    }
}

extension SoftmaxRouter {
    /// Backward pass from dL/dgates [N, k] (the task loss) plus alpha * aux + beta * z-loss.
    /// Accumulates gate gradients and returns dL/dh [N, D] for the backbone.
    ///
    /// Gates w_j = c p_j / S over the selected experts, S = sum of selected p (or w_j = c p_j without
    /// normalisation, c the gate scale): `chosenScoreGradient`.
    /// Aux: dp_ne += alpha E f_e / N (f_e constant). Softmax: dlogit = p (dp - sum p dp).
    /// z-loss: dlogit_ne += beta 2 lse_n p_ne / N.
    public mutating func backward(gateGrad: [Float], result: RoutingResult, cache: Cache,
                                  losses: SoftmaxLossWeights) -> Matrix {
        let n = result.tokens, e = experts, top = result.topK
        precondition(gateGrad.count == n * top)
        if scoring == .sigmoid { return sigmoidBackward(gateGrad: gateGrad, result: result, cache: cache) }
        let f = losses.batch?.assignmentShare ?? balanceStatistics(result).f
        let share = losses.batch?.tokenShare ?? 1
        var dlogits = Matrix(rows: n, cols: e)
        var dp = [Double](repeating: 0, count: e)
        for r in 0..<n {
            for x in 0..<e { dp[x] = share * losses.auxiliary * Double(e) * f[x] / Double(n) }
            var norm = 0.0
            var inner = 0.0
            for j in 0..<top {
                norm += result.posterior[r * e + Int(result.selected[r * top + j])]
                inner += Double(gateGrad[r * top + j]) * Double(result.weights[r * top + j])
            }
            for j in 0..<top {
                dp[Int(result.selected[r * top + j])] += chosenScoreGradient(Double(gateGrad[r * top + j]), inner: inner, norm: norm)
            }
            var dot = 0.0
            for x in 0..<e { dot += dp[x] * result.posterior[r * e + x] }
            let zScale = share * losses.z * 2 * cache.logNormalizer[r] / Double(n)
            for x in 0..<e {
                let p = result.posterior[r * e + x]
                dlogits.data[r * e + x] = Float(p * (dp[x] - dot) + zScale * p)
            }
        }
        return gate.backward(dlogits, input: cache.input) ?? Matrix(rows: n, cols: hiddenDim)
    }

    /// Sigmoid scores (no auxiliary or z-loss: the selection bias balances): ds_j of the selected experts
    /// by `chosenScoreGradient`; dlogit = ds s (1 - s).
    /// The selection bias only chooses and gets no gradient.
    mutating func sigmoidBackward(gateGrad: [Float], result: RoutingResult, cache: Cache) -> Matrix {
        let n = result.tokens, e = experts, top = result.topK
        var dlogits = Matrix(rows: n, cols: e)
        for r in 0..<n {
            var norm = 0.0, inner = 0.0
            for j in 0..<top {
                norm += cache.scores[r * e + Int(result.selected[r * top + j])]
                inner += Double(gateGrad[r * top + j]) * Double(result.weights[r * top + j])
            }
            for j in 0..<top {
                let x = Int(result.selected[r * top + j])
                let s = cache.scores[r * e + x]
                dlogits.data[r * e + x] = Float(chosenScoreGradient(Double(gateGrad[r * top + j]), inner: inner, norm: norm) * s * (1 - s))
            }
        }
        return gate.backward(dlogits, input: cache.input) ?? Matrix(rows: n, cols: hiddenDim)
    }

    /// Sets the gate gradients to zero.
    public mutating func zeroGrad() { gate.zeroGrad() }
}
