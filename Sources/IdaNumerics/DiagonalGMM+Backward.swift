import Foundation

extension DiagonalGMM {
    /// Backward pass of `weight * L_nll`, L_nll = -mean_n log p(z_n).
    ///
    /// With gamma the posterior [N, K] (`posterior`, rows summing to 1) and prec = exp(-s):
    /// dL/da_k = weight (q_k mean_n sum_{j in group(k)} gamma_nj - mean_n gamma_nk), q_k = G pi_k the
    /// softmax within k's prior group (G 1: weight (pi_k - mean_n gamma_nk), the rows summing to 1);
    /// dL/dmu_kj = -weight/N prec_kj (sum_n gamma_nk z_nj - mu_kj sum_n gamma_nk);
    /// dL/ds_kj = -weight/(2N) (prec_kj sum_n gamma_nk (z_nj - mu_kj)^2 - sum_n gamma_nk), zero where s is clamped;
    /// dL/dz_nj = weight/N (z_nj sum_k gamma_nk prec_kj - sum_k gamma_nk mu_kj prec_kj).
    /// Accumulates the parameter gradients and returns dL/dz [N, P]; with `needLatentGradient` false
    /// (L_nll does not reach the encoder, the default) it skips the two GEMMs dL/dz needs and returns
    /// an empty [0, P] matrix.
    public mutating func backwardNLL(latents z: Matrix, posterior: [Double], weight: Double = 1,
                                     needLatentGradient: Bool = true) -> Matrix {
        let n = z.rows, k = components, p = latentDim
        precondition(posterior.count == n * k, "backwardNLL: posteriors for \(posterior.count / max(k, 1)) tokens, latents for \(n)")
        guard n > 0 else { return Matrix(rows: 0, cols: p) }
        let pre = precompute()
        let zd = z.data.map(Double.init)
        let scale = weight / Double(n)

        // Sufficient statistics: Nk = sum_n gamma, S1 = gamma^T z, S2 = gamma^T z^2.
        var nk = [Double](repeating: 0, count: k)
        posterior.withUnsafeBufferPointer { post in
            nk.withUnsafeMutableBufferPointer { sums in
                guard let gamma = post.baseAddress, let total = sums.baseAddress else { return }
                for r in 0..<n { for c in 0..<k { total[c] += gamma[r * k + c] } }
            }
        }
        // S1 | S2 [K, 2P] in one GEMM: gamma^T [z | z^2].
        var both = [Double].uninitialized(n * 2 * p)
        for r in 0..<n {
            for j in 0..<p {
                both[r * 2 * p + j] = zd[r * p + j]
                both[r * 2 * p + p + j] = zd[r * p + j] * zd[r * p + j]
            }
        }
        var s12 = [Double](repeating: 0, count: k * 2 * p)
        dgemm(posterior, n, k, transA: true, both, n, 2 * p, into: &s12)

        let pi = priors
        // Each group's posterior mass sum_{j in g} Nk_j (a single group holds every token's whole mass,
        // which the G 1 form below uses exactly).
        let groupMass = priorGroups == 1 ? [] : (0..<priorGroups).map { g in priorGroupRange(g).reduce(0.0) { $0 + nk[$1] } }
        for c in 0..<k {
            let q = Double(priorGroups) * pi[c]
            gradLogits[c] += Float(priorGroups == 1 ? weight * pi[c] - scale * nk[c]
                                                    : scale * (q * groupMass[priorGroup(ofComponent: c)] - nk[c]))
            for j in 0..<p {
                let idx = c * p + j
                let mu = Double(means.data[idx])
                let prec = pre.precision[idx]
                let s1 = s12[c * 2 * p + j], s2 = s12[c * 2 * p + p + j]
                gradMeans.data[idx] += Float(-scale * prec * (s1 - mu * nk[c]))
                let raw = logVars.data[idx]
                if raw >= logVarMin && raw <= logVarMax {
                    let weightedSquares = s2 - 2 * mu * s1 + mu * mu * nk[c]
                    gradLogVars.data[idx] += Float(-0.5 * scale * (prec * weightedSquares - nk[c]))
                }
            }
        }

        guard needLatentGradient else { return Matrix(rows: 0, cols: p) }
        // dz = scale (z * (gamma prec) - gamma (mu prec)).
        var gammaPrec = [Double](repeating: 0, count: n * p)
        var gammaMeanPrec = [Double](repeating: 0, count: n * p)
        dgemm(posterior, n, k, pre.precision, k, p, into: &gammaPrec)
        dgemm(posterior, n, k, pre.meanPrecision, k, p, into: &gammaMeanPrec)
        var dz = Matrix(uninitializedRows: n, cols: p)  // every element is written below
        for i in 0..<(n * p) {
            dz.data[i] = Float(scale * (zd[i] * gammaPrec[i] - gammaMeanPrec[i]))
        }
        return dz
    }
}
