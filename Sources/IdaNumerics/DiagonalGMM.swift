import Foundation

/// A Gaussian mixture with K diagonal components over latents z in R^P; the density the IDA router routes by.
///
/// log p(z,k) = log pi_k - 1/2 sum_j ((z_j - mu_kj)^2 exp(-s_kj) + s_kj + log 2 pi), with s clamped to
/// [logVarMin, logVarMax] and log pi_k = a_k - logsumexp over k's prior group of a - log G: G groups of
/// K/G contiguous components each hold 1/G of the mass (G 1: one softmax over all K; G E: per expert).
/// Densities are evaluated in Double (see docs/decisions.md).
public struct DiagonalGMM: Sendable, Equatable {
    /// Prior logits a [K]; pi = softmax(a).
    public var logits: [Float]
    /// Component means mu [K, P].
    public var means: Matrix
    /// Component log-variances s [K, P] before clamping.
    public var logVars: Matrix
    /// Lower clamp for log-variances where they are used.
    public var logVarMin: Float
    /// Upper clamp for log-variances where they are used.
    public var logVarMax: Float
    /// Prior groups G (`RouterConfig.priorGroups`): each of G contiguous groups of K/G components holds
    /// exactly 1/G of the prior mass; 1 is one softmax over all K.
    public let priorGroups: Int
    /// Gradient with respect to `logits` [K].
    public var gradLogits: [Float]
    /// Gradient with respect to `means` [K, P].
    public var gradMeans: Matrix
    /// Gradient with respect to `logVars` [K, P].
    public var gradLogVars: Matrix

    /// A mixture over existing parameters with zero gradients.
    public init(logits: [Float], means: Matrix, logVars: Matrix, logVarMin: Float, logVarMax: Float, priorGroups: Int = 1) {
        precondition(logits.count == means.rows && means.rows == logVars.rows && means.cols == logVars.cols,
                     "GMM parameter shapes disagree")
        precondition(priorGroups >= 1 && logits.count % priorGroups == 0, "\(priorGroups) prior groups do not divide \(logits.count) components")
        self.priorGroups = priorGroups
        self.logits = logits
        self.means = means
        self.logVars = logVars
        self.logVarMin = logVarMin
        self.logVarMax = logVarMax
        self.gradLogits = [Float](repeating: 0, count: logits.count)
        self.gradMeans = Matrix(rows: means.rows, cols: means.cols)
        self.gradLogVars = Matrix(rows: means.rows, cols: means.cols)
    }

    /// Number of components K.
    public var components: Int { logits.count }
    /// Latent width P.
    public var latentDim: Int { means.cols }

    /// Components in each prior group, K/G.
    public var priorGroupSize: Int { components / priorGroups }

    /// The prior group of component k (its expert when G is E).
    @inlinable
    public func priorGroup(ofComponent k: Int) -> Int { k / priorGroupSize }

    /// The components of prior group g.
    public func priorGroupRange(_ g: Int) -> Range<Int> { (g * priorGroupSize)..<((g + 1) * priorGroupSize) }

    /// Mixing weights pi [K]: softmax(a) within each prior group, times 1/G.
    public var priors: [Double] {
        var out = [Double](repeating: 0, count: components)
        let share = 1 / Double(priorGroups)  // exactly 1 for a global prior: softmax(a) bit for bit
        for g in 0..<priorGroups {
            let range = priorGroupRange(g)
            let lse = logSumExp(logits[range].map(Double.init))
            for c in range { out[c] = share * Foundation.exp(Double(logits[c]) - lse) }
        }
        return out
    }

    /// The mean logit of component k's prior group: where a reset puts its logit (the group's mean
    /// share) and what L_react pulls it toward.
    public func meanGroupLogit(ofComponent k: Int) -> Double {
        let range = priorGroupRange(priorGroup(ofComponent: k))
        return logits[range].reduce(0.0) { $0 + Double($1) } / Double(max(range.count, 1))
    }

    /// The log-variance actually used for component k, feature j.
    @inlinable
    public func clampedLogVar(_ value: Float) -> Double {
        Double(min(max(value, logVarMin), logVarMax))
    }

    /// Sets the gradients to zero.
    public mutating func zeroGrad() {
        gradLogits = [Float](repeating: 0, count: components)
        gradMeans.zero()
        gradLogVars.zero()
    }
}

/// log(sum(exp(values))), stable for large and -infinite entries.
public func logSumExp(_ values: [Double]) -> Double {
    guard let top = values.max(), top.isFinite else { return values.max() ?? -.infinity }
    var sum = 0.0
    for v in values { sum += Foundation.exp(v - top) }
    return top + Foundation.log(sum)
}
