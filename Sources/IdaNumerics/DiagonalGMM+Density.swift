import Foundation

/// The mixture evaluated on a block of latents: joint log-likelihoods, log-densities, posteriors.
public struct GMMEvaluation: Sendable {
    /// Number of tokens N.
    public var tokens: Int
    /// Number of components K.
    public var components: Int
    /// log p(z_n, k) [N, K].
    public var logJoint: [Double]
    /// log p(z_n) [N].
    public var logDensity: [Double]
    /// Posterior gamma_nk = p(k | z_n) [N, K]; rows sum to 1.
    public var posterior: [Double]
}

extension DiagonalGMM {
    /// Per-component quantities shared by the density and its gradient in training (routing uses
    /// `JointTerms`, built from them).
    public struct Precomputed: Sendable {
        /// exp(-s) [K, P] with s clamped.
        var precision: [Double]
        /// mu * exp(-s) [K, P].
        var meanPrecision: [Double]
        /// log pi_k - 1/2 (sum_j mu^2 exp(-s) + sum_j s + P log 2 pi) [K].
        var offset: [Double]
    }

    /// The per-component quantities for the current parameters.
    public func precompute() -> Precomputed {
        let k = components, p = latentDim
        var precision = [Double](repeating: 0, count: k * p)
        var meanPrecision = precision
        var offset = [Double](repeating: 0, count: k)
        let logPriors = priors.map { Foundation.log($0) }
        let logTwoPi = Foundation.log(2 * Double.pi)
        for c in 0..<k {
            var quad = 0.0, logDet = 0.0
            for j in 0..<p {
                let s = clampedLogVar(logVars.data[c * p + j])
                let prec = Foundation.exp(-s)
                let mu = Double(means.data[c * p + j])
                precision[c * p + j] = prec
                meanPrecision[c * p + j] = mu * prec
                quad += mu * mu * prec
                logDet += s
            }
            offset[c] = logPriors[c] - 0.5 * (quad + logDet + Double(p) * logTwoPi)
        }
        return Precomputed(precision: precision, meanPrecision: meanPrecision, offset: offset)
    }

    /// What routing needs of the mixture for log p(z, k) in one GEMM: row k is
    /// [-prec_k / 2, mu_k prec_k, offset_k] ([K, 2P + 1], double), so that [z^2, z, 1] times its
    /// transpose is the joint log-likelihood with no second GEMM and no copy of the offsets into the
    /// output first. The same terms as `offset + quadraticTerms`, added in one dot product.
    public struct JointTerms: Sendable {
        var rows: [Double]
        let components: Int, latentDim: Int
    }

    /// The joint terms for the current parameters (computed once per probe by routers).
    public func jointTerms() -> JointTerms {
        let pre = precompute()
        let k = components, p = latentDim, width = 2 * p + 1
        var rows = [Double](repeating: 0, count: k * width)
        for c in 0..<k {
            for j in 0..<p {
                rows[c * width + j] = -0.5 * pre.precision[c * p + j]  // exact: a power-of-two scale
                rows[c * width + p + j] = pre.meanPrecision[c * p + j]
            }
            rows[c * width + 2 * p] = pre.offset[c]
        }
        return JointTerms(rows: rows, components: k, latentDim: p)
    }

    /// log p(z_n, k) [N, K] for latents z [N, P], in double, from one GEMM against `terms`.
    func logJoint(_ z: Matrix, _ terms: JointTerms) -> [Double] {
        let n = z.rows, k = terms.components, p = terms.latentDim, width = 2 * p + 1
        precondition(z.cols == p, "latents have \(z.cols) columns, the mixture \(p)")
        var a = [Double](repeating: 1, count: n * width)
        z.data.withUnsafeBufferPointer { pz in
            a.withUnsafeMutableBufferPointer { pa in
                for r in 0..<n {
                    for j in 0..<p {
                        let v = Double(pz[r * p + j])
                        pa[r * width + j] = v * v
                        pa[r * width + p + j] = v
                    }
                }
            }
        }
        var out = [Double](unsafeUninitializedCapacity: n * k) { _, count in count = n * k }  // beta 0 writes all
        dgemm(a, n, width, terms.rows, k, width, transB: true, into: &out)
        return out
    }

    /// -1/2 sum_j (z_j - mu_kj)^2 prec_kj [N, K] for latents z [N, P], in double (the expansion
    /// cancels; docs/decisions.md).
    func quadraticTerms(_ z: Matrix, _ pre: Precomputed) -> [Double] {
        let n = z.rows, k = components, p = latentDim
        let zd = z.data.map(Double.init)
        let z2 = zd.map { $0 * $0 }
        var out = [Double](repeating: 0, count: n * k)
        dgemm(z2, n, p, pre.precision, k, p, transB: true, into: &out, alpha: -0.5, beta: 0)
        dgemm(zd, n, p, pre.meanPrecision, k, p, transB: true, into: &out, alpha: 1, beta: 1)
        return out
    }

    /// Evaluates the mixture on latents z [N, P] with two GEMMs (no N x K x P temporary):
    /// sum_j (z_j - mu_kj)^2 prec_kj = (z^2) . prec^T - 2 z . (mu prec)^T + sum_j mu_kj^2 prec_kj.
    public func evaluate(_ z: Matrix) -> GMMEvaluation {
        precondition(z.cols == latentDim, "GMM expects latents of width \(latentDim), got \(z.cols)")
        let n = z.rows, k = components
        let pre = precompute()
        // The numerators in float from double differences (`VectorMath.expShifted`, as routing's
        // row pass): every argument is at most 0 after the shift, so each posterior keeps about 7
        // digits, far more than the float gradients it feeds.
        let joint = PinnedMutableBuffer(quadraticTerms(z, pre))
        let logDensity = PinnedMutableBuffer([Double].uninitialized(n))  // both written row by row below
        let posterior = PinnedMutableBuffer([Double].uninitialized(n * k))
        let numerators = PinnedMutableBuffer<Float>(repeating: 0, count: k)
        let level = VectorMath.level
        withPinned(joint, logDensity, posterior, numerators) {
            guard let logJoint = joint.buffer.baseAddress,        // [N, K] log p(z_n, k), offsets added below
                  let numerators = numerators.buffer.baseAddress  // [K] the row's e^(log p - top)
            else { return }
            let logDensity = logDensity.buffer  // [N] log p(z_n)
            let posterior = posterior.buffer    // [N, K]
            for r in 0..<n {
                let row = logJoint + r * k
                for c in 0..<k { row[c] += pre.offset[c] }
                let top = VectorMath.maximum(row, count: k, level: level)
                VectorMath.expShifted(row, into: numerators, shift: top, count: k, level: level)
                var sum = 0.0
                for c in 0..<k { sum += Double(numerators[c]) }
                let inv = 1 / sum
                for c in 0..<k { posterior[r * k + c] = Double(numerators[c]) * inv }
                logDensity[r] = top + Foundation.log(sum)
            }
        }
        return GMMEvaluation(tokens: n, components: k, logJoint: joint.take(),
                             logDensity: logDensity.take(), posterior: posterior.take())
    }
}
