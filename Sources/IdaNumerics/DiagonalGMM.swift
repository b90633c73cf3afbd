import Foundation

/// A Gaussian mixture with K diagonal components over latents z in R^P; the density the IDA router routes by.
///
/// log p(z,k) = a_k - logsumexp(a) - 1/2 sum_j ((z_j - mu_kj)^2 exp(-s_kj) + s_kj + log 2 pi),
/// with s clamped to [logVarMin, logVarMax]. Densities are evaluated in Double (see docs/decisions.md).
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
    /// Gradient with respect to `logits` [K].
    public var gradLogits: [Float]
    /// Gradient with respect to `means` [K, P].
    public var gradMeans: Matrix
    /// Gradient with respect to `logVars` [K, P].
    public var gradLogVars: Matrix

    /// A mixture over existing parameters with zero gradients.
    public init(logits: [Float], means: Matrix, logVars: Matrix, logVarMin: Float, logVarMax: Float) {
        precondition(logits.count == means.rows && means.rows == logVars.rows && means.cols == logVars.cols,
                     "GMM parameter shapes disagree")
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

    /// Mixing weights pi = softmax(a) [K].
    public var priors: [Double] {
        let lse = logSumExp(logits.map(Double.init))
        return logits.map { Foundation.exp(Double($0) - lse) }
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
