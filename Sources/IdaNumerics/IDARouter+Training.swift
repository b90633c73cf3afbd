/// Weights of the router's loss terms: L = L_nll + reconstruction * L_rec + reactivation * L_react.
public struct RouterLossWeights: Sendable, Equatable {
    /// lambda_rec.
    public var reconstruction: Double
    /// lambda_react.
    public var reactivation: Double
    /// Whether L_nll's gradient reaches the encoder through z (otherwise only the GMM learns from it,
    /// and the encoder learns from the reconstruction alone; see docs/decisions.md).
    public var nllToEncoder: Bool

    /// Weights of the reconstruction and reactivation terms (NLL has weight 1).
    public init(reconstruction: Double = 1, reactivation: Double = 1, nllToEncoder: Bool = false) {
        self.reconstruction = reconstruction
        self.reactivation = reactivation
        self.nllToEncoder = nllToEncoder
    }
}

/// The router's loss terms for one batch.
public struct RouterLosses: Sendable, Equatable {
    /// L_nll = -mean log p(z).
    public var nll: Double
    /// L_rec = mean over tokens and features of (xhat - x)^2.
    public var reconstruction: Double
    /// L_react (unweighted).
    public var reactivation: Double
    /// The weighted sum that was differentiated.
    public var total: Double

    /// Losses from their parts.
    public init(nll: Double, reconstruction: Double, reactivation: Double, total: Double) {
        self.nll = nll
        self.reconstruction = reconstruction
        self.reactivation = reactivation
        self.total = total
    }
}

extension IDARouter {
    /// Routes a batch h [N, D] and accumulates the gradients of the router loss into every router
    /// parameter (encoder, decoder, GMM). Gradients are not zeroed here. h is treated as a constant:
    /// nothing flows back to the backbone.
    ///
    /// `tokenShare` is this batch's share of a larger one split into micro-batches (its N over the
    /// whole batch's): every gradient is scaled by it, so the micro-batches' gradients add up to the
    /// whole batch's. The losses returned are this batch's own means (unscaled).
    public mutating func trainStep(_ h: Matrix, weights: RouterLossWeights = RouterLossWeights(),
                                   reactivation: ReactivationState? = nil, tokenShare: Double = 1,
                                   context: NumericContext = .serial) -> (RoutingResult, RouterLosses) {
        precondition(h.cols == hiddenDim, "router expects hidden width \(hiddenDim), got \(h.cols)")
        let n = h.rows, d = h.cols
        let x = routerInput(h)
        let (u, encoderCache) = encoder.forward(x, context: context)
        let (z, rms) = latent(u)
        // The mixture through routing's path (one GEMM for the log-joints, then the row pass), keeping
        // the posteriors the NLL gradient needs: the decisions come from the same numerators.
        var result = decide(logJoint: gmm.logJoint(z, gmm.jointTerms()), tokens: n, posteriors: true)
        let (xhat, decoderCache) = decoder.forward(z, context: context)

        let nll = n > 0 ? -(result.logDensity ?? []).reduce(0, +) / Double(n) : 0
        // One pass over xhat - x: dL/dxhat = lambda_rec * 2 (xhat - x) / (N D), the total of squares
        // for L_rec, and each row's mean square (the same sums, in the same order, as
        // `rowMeanSquaredError`).
        var dxhat = Matrix(uninitializedRows: n, cols: d)  // every element is written below
        var rowErrors = [Float].uninitialized(n)
        var squares = 0.0
        let recScale = Float(tokenShare * weights.reconstruction * 2 / Double(max(n * d, 1)))
        xhat.data.withUnsafeBufferPointer { pa in
            x.data.withUnsafeBufferPointer { pb in
                dxhat.data.withUnsafeMutableBufferPointer { pd in
                    guard let a = pa.baseAddress, let b = pb.baseAddress, let g = pd.baseAddress else { return }
                    for r in 0..<n {
                        var rowSum = 0.0
                        for c in (r * d)..<((r + 1) * d) {
                            let diff = a[c] - b[c]
                            let square = Double(diff) * Double(diff)
                            squares += square
                            rowSum += square
                            g[c] = recScale * diff
                        }
                        rowErrors[r] = Float(rowSum / Double(max(d, 1)))
                    }
                }
            }
        }
        let reconstruction = squares / Double(max(n * d, 1))

        // dL/dz: the decoder's part, plus L_nll's only when it reaches the encoder (docs/decisions.md);
        // otherwise the GMM backward skips the two latent-gradient GEMMs altogether.
        let dzNLL = gmm.backwardNLL(latents: z, posterior: result.posterior, weight: tokenShare,
                                    needLatentGradient: weights.nllToEncoder)
        var dz = decoder.backward(dxhat, cache: decoderCache, context: context) ?? Matrix(rows: n, cols: z.cols)
        if weights.nllToEncoder {
            dz.data.withUnsafeMutableBufferPointer { pz in
                dzNLL.data.withUnsafeBufferPointer { pn in
                    guard let dst = pz.baseAddress, let src = pn.baseAddress else { return }
                    for i in 0..<pz.count { dst[i] = src[i] + dst[i] }
                }
            }
        }
        latentBackward(&dz, z: z, rms: rms)
        encoder.backward(dz, cache: encoderCache, needInputGrad: false, context: context)
        let react = reactivation?.accumulateLoss(gmm: &gmm, weight: tokenShare * weights.reactivation) ?? 0

        result.latents = z
        result.reconstructionError = rowErrors
        let total = nll + weights.reconstruction * reconstruction + weights.reactivation * react
        return (result, RouterLosses(nll: nll, reconstruction: reconstruction, reactivation: react, total: total))
    }

    /// Sets every router gradient to zero.
    public mutating func zeroGrad() {
        encoder.zeroGrad()
        decoder.zeroGrad()
        gmm.zeroGrad()
    }
}
