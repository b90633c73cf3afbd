import IdaNumerics

extension ModelConfig {
    /// A lower bound on the model's scalar weights, overflow-checked (nil when it does not fit an
    /// `Int`): embeddings V*D + T*D, attention 4*D^2 per block, E experts of up and down projections
    /// per MoE block, one per dense block, and each MoE block's router (the IDA encoder's and
    /// decoder's matrices and the mixture's K x (2P + 1) values, or the softmax gate's E x D); norms
    /// and biases left out. A snapshot file must hold at least this many elements before a model of
    /// this shape is built from it, so what is allocated is bounded by bytes that exist.
    public var weightsLowerBound: Int? {
        let d = width, f = expertHidden
        let upRows = expertKind == .swiglu ? 2 * f : f
        let expert = SizeLimits.sum([SizeLimits.product(upRows, d), SizeLimits.product(d, f)])
        let moeBlocks = moeLayers.count
        let router: Int?
        if self.router == .ida {
            let widths = [d] + routerHidden + [latentDim]
            let encoder = SizeLimits.sum(zip(widths, widths.dropFirst()).map { SizeLimits.product($0, $1) })
            let k = SizeLimits.product(experts, componentsPerExpert)
            router = SizeLimits.sum([encoder.flatMap { SizeLimits.product($0, 2) },
                                     k.flatMap { SizeLimits.product($0, 2 * latentDim + 1) }])
        } else {
            router = SizeLimits.product(experts, d)
        }
        return SizeLimits.sum([
            router.flatMap { SizeLimits.product(moeBlocks, $0) },
            SizeLimits.product(vocab, d), SizeLimits.product(context, d),
            SizeLimits.product([blocks, 4, d, d]),
            expert.flatMap { SizeLimits.product([moeBlocks, experts, $0]) },
            expert.flatMap { SizeLimits.product(blocks - moeBlocks, $0) },
        ])
    }

    /// An estimate of the bytes a training step of `batch` sequences on `workers` workers needs
    /// (nil when it does not fit an `Int`): weights, gradients and AdamW's two moments, one gradient
    /// replica per worker, and the activations kept for the backward pass (about ten [B*T, D]
    /// tensors a block, the [B, heads, T, T] attention probabilities, the experts' [B*T*k, F] hidden
    /// activations and the [B*T, V] logits). It only has to be right within a small factor: it
    /// refuses shapes that cannot fit the machine before anything is allocated.
    public func trainingBytes(batch: Int, workers: Int) -> Int? {
        let tokens = SizeLimits.product(batch, context)
        let floats = SizeLimits.sum([
            weightsLowerBound.flatMap { SizeLimits.product($0, 4 + max(workers, 1)) },
            tokens.flatMap { SizeLimits.product([$0, width, blocks, 10]) },
            SizeLimits.product([batch, heads, context, context, blocks]),
            tokens.flatMap { SizeLimits.product([$0, topK, expertHidden, 2, moeLayers.count]) },
            tokens.flatMap { SizeLimits.product([$0, vocab, 2]) },
        ])
        return floats.flatMap { SizeLimits.product($0, 4) }
    }

    /// An estimate of the bytes running text through the model needs (the inspector's live text:
    /// windows of up to 16 x T tokens, no gradients); nil when it does not fit an `Int`.
    public var inferenceBytes: Int? {
        let tokens = SizeLimits.product(16, context)
        let floats = SizeLimits.sum([
            weightsLowerBound,
            tokens.flatMap { SizeLimits.product([$0, width, blocks, 4]) },
            SizeLimits.product([16, heads, context, context]),
            tokens.flatMap { SizeLimits.product([$0, topK, expertHidden, 2]) },
            tokens.flatMap { SizeLimits.product([$0, vocab]) },
        ])
        return floats.flatMap { SizeLimits.product($0, 4) }
    }

    /// Throws when a training step of `options` (its batch, on its worker count) would not fit this
    /// machine's memory by `trainingBytes`' estimate.
    public func checkTrainingFits(_ options: TrainingOptions) throws {
        let workers = NumericContext(requested: options.threads).threads
        try Self.checkFits(trainingBytes(batch: options.batch, workers: workers), what: "a training step", key: "batch",
                           hint: "lower the batch, context, width, blocks, experts or expert width")
    }

    /// Throws when `bytes` (an estimate; nil: beyond any machine) is above `available`, naming the
    /// estimate, the machine's memory and `hint` (what to do).
    public static func checkFits(_ bytes: Int?, available: Int = SizeLimits.physicalMemory, what: String,
                                 key: String, hint: String) throws {
        guard let bytes, bytes <= available else {
            let needed = bytes.map { "about " + SizeLimits.describe(bytes: $0) } ?? "more memory than any machine has"
            throw SettingError.invalidSetting(
                key: key, problem: "gives \(what) that needs \(needed) (estimate), more than this machine's "
                    + "\(SizeLimits.describe(bytes: available)); \(hint)")
        }
    }
}
