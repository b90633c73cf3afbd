import Foundation

/// The Input-Domain-Aware router: autoencoder to a latent z, a diagonal GMM over z, top-k experts by posterior.
///
/// The router reads a detached copy of the hidden state: its losses never reach the backbone and its
/// gate weights carry no gradient to router parameters.
public struct IDARouter: Sendable, Equatable {
    /// Shape and routing options.
    public var config: RouterConfig
    /// Encoder D -> ... -> P.
    public var encoder: MLP
    /// Decoder P -> ... -> D.
    public var decoder: MLP
    /// Mixture over latents with K = E * M components.
    public var gmm: DiagonalGMM

    /// A router over existing parameters, with every shape checked against `config`.
    public init(config: RouterConfig, encoder: MLP, decoder: MLP, gmm: DiagonalGMM) throws(NumericsError) {
        try Self.validate(config)
        let k = config.components, p = config.latentDim
        guard encoder.outputs == p else {
            throw .shapeMismatch(what: "encoder output", expected: [p], found: [encoder.outputs])
        }
        guard decoder.inputs == p, decoder.outputs == encoder.inputs else {
            throw .shapeMismatch(what: "decoder", expected: [p, encoder.inputs], found: [decoder.inputs, decoder.outputs])
        }
        guard gmm.components == k, gmm.latentDim == p else {
            throw .shapeMismatch(what: "gmm.means", expected: [k, p], found: [gmm.means.rows, gmm.means.cols])
        }
        guard gmm.priorGroups == config.priorGroups else {
            throw .invalidConfig("the mixture shares its prior among \(gmm.priorGroups) groups, prior mass \(config.priorMass.rawValue) needs \(config.priorGroups)")
        }
        self.config = config
        self.encoder = encoder
        self.decoder = decoder
        self.gmm = gmm
    }

    /// A freshly initialised router for hidden width D with encoder hidden widths `hidden` (e.g. [128]).
    public init(config: RouterConfig, hiddenDim: Int, hidden: [Int], rng: inout SeededGenerator) throws(NumericsError) {
        try Self.validate(config)
        let p = config.latentDim, k = config.components
        let enc = MLP(widths: [hiddenDim] + hidden + [p], activation: config.activation, rng: &rng)
        let dec = MLP(widths: [p] + hidden.reversed() + [hiddenDim], activation: config.activation, rng: &rng)
        var means = Matrix(rows: k, cols: p)
        for i in means.data.indices { means.data[i] = rng.normal() }
        let gmm = DiagonalGMM(logits: [Float](repeating: 0, count: k), means: means,
                              logVars: Matrix(rows: k, cols: p), logVarMin: config.logVarMin,
                              logVarMax: config.logVarMax, priorGroups: config.priorGroups)
        try self.init(config: config, encoder: enc, decoder: dec, gmm: gmm)
    }

    static func validate(_ c: RouterConfig) throws(NumericsError) {
        guard SizeLimits.within(c.experts, SizeLimits.experts) else {
            throw .invalidConfig("experts must be 1...\(SizeLimits.experts), got \(c.experts)")
        }
        guard SizeLimits.within(c.componentsPerExpert, SizeLimits.componentsPerExpert) else {
            throw .invalidConfig("components per expert must be 1...\(SizeLimits.componentsPerExpert), got \(c.componentsPerExpert)")
        }
        guard let k = SizeLimits.product(c.experts, c.componentsPerExpert), k <= SizeLimits.components else {
            throw .invalidConfig("components E x M must be at most \(SizeLimits.components)")
        }
        guard SizeLimits.within(c.latentDim, SizeLimits.latentDim) else {
            throw .invalidConfig("latent width must be 1...\(SizeLimits.latentDim), got \(c.latentDim)")
        }
        guard c.topK >= 1, c.topK <= c.experts else {
            throw .invalidConfig("top-k must be 1...\(c.experts), got \(c.topK)")
        }
        guard c.logVarMin.isFinite, c.logVarMax.isFinite, c.logVarMin <= c.logVarMax else {
            throw .invalidConfig("log-variance clamp [\(c.logVarMin), \(c.logVarMax)] is not a finite interval")
        }
    }

    /// Hidden width D.
    public var hiddenDim: Int { encoder.inputs }

    /// x = stopgrad(h), RMS-normalised per token when `inputNorm` is rms (in place when h is not shared).
    public func routerInput(_ h: consuming Matrix) -> Matrix {
        guard config.inputNorm == .rms else { return h }
        var x = h
        let d = x.cols
        x.data.withUnsafeMutableBufferPointer { px in
            guard let base = px.baseAddress else { return }
            for r in 0..<x.rows {
                let row = base + r * d
                let scale = 1 / (Elementwise.sumOfSquares(row, d) / Float(max(d, 1)) + 1e-6).squareRoot()
                for c in 0..<d { row[c] *= scale }
            }
        }
        return x
    }

    /// z = u / sqrt(mean(u^2) + 1e-6) per row when `latentNorm` is rms (else u); returns the RMS
    /// divisors [N] the backward pass needs (empty when not normalised).
    public func latent(_ u: consuming Matrix) -> (z: Matrix, rms: [Float]) {
        guard config.latentNorm == .rms else { return (u, []) }
        var z = u
        let p = z.cols
        var rms = [Float](repeating: 1, count: z.rows)
        z.data.withUnsafeMutableBufferPointer { pz in
            guard let base = pz.baseAddress else { return }
            for r in 0..<z.rows {
                let row = base + r * p
                let value = (Elementwise.sumOfSquares(row, p) / Float(max(p, 1)) + 1e-6).squareRoot()
                rms[r] = value
                for c in 0..<p { row[c] /= value }
            }
        }
        return (z, rms)
    }

    /// du from dz for `latent`: du_j = (dz_j - z_j * mean_i(dz_i z_i)) / rms (in place).
    public func latentBackward(_ dz: inout Matrix, z: Matrix, rms: [Float]) {
        guard config.latentNorm == .rms, rms.count == dz.rows else { return }
        let p = dz.cols
        for r in 0..<dz.rows {
            var dot: Float = 0
            for c in 0..<p { dot += dz.data[r * p + c] * z.data[r * p + c] }
            let mean = dot / Float(max(p, 1))
            for c in 0..<p { dz.data[r * p + c] = (dz.data[r * p + c] - z.data[r * p + c] * mean) / rms[r] }
        }
    }

    /// Routes hidden states h [N, D]; optionally keeps latents and per-token reconstruction errors.
    /// With `posteriors` false the result's N x K posteriors are left empty (nothing else changes);
    /// `mixture`, when given, must be `gmm.jointTerms()` of this router (computed once per probe).
    /// `rankComponents` > 0 ranks each token's most probable components (`RoutingResult.ranked`).
    /// Consuming h lets the RMS input norm scale it in place instead of copying it.
    public func route(_ h: consuming Matrix, keepLatents: Bool = false, reconstruct: Bool = false,
                      posteriors: Bool = true, rankComponents: Int = 0,
                      mixture: DiagonalGMM.JointTerms? = nil) -> RoutingResult {
        precondition(h.cols == hiddenDim, "router expects hidden width \(hiddenDim), got \(h.cols)")
        let x = routerInput(consume h)
        let z = latent(encoder(x)).z
        let terms = mixture ?? gmm.jointTerms()
        var result = decide(logJoint: gmm.logJoint(z, terms), tokens: z.rows, posteriors: posteriors, rank: rankComponents)
        if keepLatents { result.latents = z }
        if reconstruct { result.reconstructionError = Self.rowMeanSquaredError(decoder(z), x) }
        return result
    }

    /// Routes n rows of hidden states read in place (row-major, D wide), when the router reads them
    /// as they are (no RMS input norm, which scales its own copy): the result `route(_:)` gives for a
    /// copy of them, without reconstruction; nil when there is an input norm. `inspectFirst` sees the
    /// encoder's first layer output before its activation and may stop the pass.
    public func route(rows x: UnsafePointer<Float>, count n: Int, keepLatents: Bool = false,
                      posteriors: Bool = true, rankComponents: Int = 0, mixture: DiagonalGMM.JointTerms? = nil,
                      inspectFirst: (Matrix) throws -> Void) rethrows -> RoutingResult? {
        guard config.inputNorm != .rms else { return nil }
        let z = latent(try encoder(rows: x, count: n, inspectFirst: inspectFirst)).z
        let terms = mixture ?? gmm.jointTerms()
        var result = decide(logJoint: gmm.logJoint(z, terms), tokens: z.rows, posteriors: posteriors, rank: rankComponents)
        if keepLatents { result.latents = z }
        return result
    }

    /// Turns component posteriors into expert scores, top-k choices, gate weights and entropies.
    public func decide(_ ev: GMMEvaluation) -> RoutingResult {
        let n = ev.tokens, k = ev.components, e = config.experts, m = config.componentsPerExpert
        let top = config.topK
        let posterior = PinnedBuffer(ev.posterior)
        let selected = PinnedMutableBuffer<Int32>(repeating: 0, count: n * top)
        let weights = PinnedMutableBuffer<Float>(repeating: 0, count: n * top)
        let q = PinnedMutableBuffer<Double>(repeating: 0, count: n * e)
        let score = PinnedMutableBuffer<Double>(repeating: 0, count: e)
        let entropy = PinnedMutableBuffer<Double>(repeating: 0, count: n)
        let topComponent = PinnedMutableBuffer<Int32>(repeating: 0, count: n)
        withPinned(posterior, selected, weights, q, score, entropy, topComponent) {
            let posterior = posterior.buffer        // [N, K]
            let selected = selected.buffer          // [N, k] chosen experts, best first
            let weights = weights.buffer            // [N, k] gate weights
            let q = q.buffer                        // [N, E] expert distribution
            let score = score.buffer                // [E] the row's expert scores
            let entropy = entropy.buffer            // [N] bits
            let topComponent = topComponent.buffer  // [N] most probable component
            for r in 0..<n {
                var best = 0
                for c in 0..<k where posterior[r * k + c] > posterior[r * k + best] { best = c }
                topComponent[r] = Int32(best)
                for x in 0..<e {
                    var total = 0.0, peak = 0.0
                    for c in (x * m)..<((x + 1) * m) {
                        total += posterior[r * k + c]
                        peak = max(peak, posterior[r * k + c])
                    }
                    q[r * e + x] = total
                    score[x] = config.expertScore == .max ? peak : total
                }
                let choice = (r * top)..<((r + 1) * top)
                chooseExperts(UnsafeBufferPointer(score), into: UnsafeMutableBufferPointer(rebasing: selected[choice]),
                              weights: UnsafeMutableBufferPointer(rebasing: weights[choice]),
                              temperature: config.gateTemperature)
                entropy[r] = entropyBits(UnsafeBufferPointer(rebasing: q[(r * e)..<((r + 1) * e)]))
            }
        }
        return RoutingResult(tokens: n, topK: top, experts: e, selected: selected.take(), weights: weights.take(),
                             expertProbabilities: q.take(), posterior: ev.posterior, posteriorWidth: k,
                             entropyBits: entropy.take(), logDensity: ev.logDensity, topComponent: topComponent.take(),
                             latents: nil, reconstructionError: nil)
    }

    /// mean_j (a_nj - b_nj)^2 for each row n.
    static func rowMeanSquaredError(_ a: Matrix, _ b: Matrix) -> [Float] {
        var out = [Float](repeating: 0, count: a.rows)
        for r in 0..<a.rows {
            var sum: Double = 0
            for c in 0..<a.cols {
                let diff = Double(a.data[r * a.cols + c] - b.data[r * a.cols + c])
                sum += diff * diff
            }
            out[r] = Float(sum / Double(max(a.cols, 1)))
        }
        return out
    }
}
