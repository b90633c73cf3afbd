import IdaNumerics

/// What one MoE layer did in a forward pass.
public struct LayerStep: Sendable {
    /// Block index.
    public var layer: Int
    /// The routing of the batch.
    public var routing: RoutingResult
    /// IDA router losses (training steps only).
    public var routerLosses: RouterLosses?
    /// Softmax router auxiliary balance loss (unweighted).
    public var auxiliaryLoss: Double?
    /// Softmax router z-loss (unweighted).
    public var zLoss: Double?
}

/// Loss weights and reactivation bookkeeping for a training step.
public struct StepSettings: Sendable {
    /// IDA router loss weights.
    public var router = RouterLossWeights()
    /// Softmax router extra loss weights.
    public var softmax = SoftmaxLossWeights()
    /// The workers every kernel of the step splits its work over (the trainer's `--threads`).
    public var context = NumericContext.serial
    /// This call's share of the step's tokens when the batch is split into micro-batches (1: the
    /// whole batch): router and softmax-loss gradients are scaled by it.
    public var tokenShare = 1.0
    /// Per MoE block, the whole batch's share of the N*k assignments per expert [E], for the softmax
    /// routers' auxiliary loss of a micro-batch (empty: each call's own).
    public var batchAssignmentShares: [Int: [Double]] = [:]

    /// Default weights.
    public init() {}
}

extension MoETransformer {
    /// Per-block activations kept for the backward pass.
    struct BlockCache {
        var input: Matrix
        var attentionNorm: RMSNorm.Cache
        var attention: CausalSelfAttention.Cache
        var middle: Matrix
        var ffnInput: Matrix
        var ffnNorm: RMSNorm.Cache
        var dense: ExpertMLP.Cache?
        var moe: MoEFeedForward.Cache?
        var softmax: SoftmaxRouter.Cache?
        var routing: RoutingResult?
    }

    /// Everything `backward` needs.
    struct ForwardCache {
        var tokens: [Int32]
        var positions: [Int32]
        var blocks: [BlockCache]
        var last: Matrix
        var finalNorm: RMSNorm.Cache
        var normalized: Matrix
    }

    /// Positions 0..<T repeated for B sequences.
    static func positions(batch: Int, time: Int) -> [Int32] {
        var out = [Int32](repeating: 0, count: batch * time)
        for b in 0..<batch { for t in 0..<time { out[b * time + t] = Int32(t) } }
        return out
    }

    /// The forward pass over tokens [B*T]. With `train`, IDA routers run their own training step
    /// (their gradients accumulate) with `reactivation` states; otherwise nothing is mutated.
    /// `frozenIDARouting` replaces the IDA routers' decisions (tests use it to hold detached gates fixed).
    mutating func forward(tokens: [Int32], batch: Int, time: Int, train: Bool, settings: StepSettings,
                          reactivation: [Int: ReactivationState], keepLatents: Bool = false,
                          frozenIDARouting: [Int: RoutingResult]? = nil)
        -> (logits: Matrix, cache: ForwardCache, layers: [LayerStep]) {
        precondition(tokens.count == batch * time && time <= config.context)
        let positions = Self.positions(batch: batch, time: time)
        var x = tokenEmbedding.forward(tokens: tokens)
        let pe = positionEmbedding.forward(tokens: positions)
        add(pe, into: &x)
        var caches: [BlockCache] = []
        var steps: [LayerStep] = []
        let context = settings.context
        for i in blocks.indices {
            let input = x
            let (a, attentionNormCache) = blocks[i].attentionNorm.forward(x)
            var (attended, attentionCache) = blocks[i].attention.forward(a, batch: batch, time: time, context: context)
            // The residual sums land in the fresh outputs' buffers, so x (kept in the cache as `input` and
            // `middle`) is never copied; a + b and b + a are the same float.
            add(input, into: &attended)
            x = attended
            let middle = x
            let (f, ffnNormCache) = blocks[i].ffnNorm.forward(x)
            var cache = BlockCache(input: input, attentionNorm: attentionNormCache, attention: attentionCache,
                                   middle: middle, ffnInput: f, ffnNorm: ffnNormCache)
            if let dense = blocks[i].dense {
                var (y, denseCache) = dense.forward(f, context: context)
                cache.dense = denseCache
                add(middle, into: &y)
                x = y
            } else if let moe = blocks[i].moe {
                var step: LayerStep
                if var router = blocks[i].ida {
                    if let frozen = frozenIDARouting?[i] {
                        // Tests hold the (detached) IDA gates fixed to compare with finite differences.
                        step = LayerStep(layer: i, routing: frozen)
                    } else if train {
                        blocks[i].ida = nil  // keep the router uniquely referenced while it accumulates gradients
                        let (routing, losses) = router.trainStep(f, weights: settings.router, reactivation: reactivation[i],
                                                                tokenShare: settings.tokenShare, context: context)
                        blocks[i].ida = router
                        step = LayerStep(layer: i, routing: routing, routerLosses: losses)
                    } else {
                        step = LayerStep(layer: i, routing: router.route(f, keepLatents: keepLatents))
                    }
                } else if let router = blocks[i].softmax {
                    let (routing, softmaxCache) = router.forward(f)
                    cache.softmax = softmaxCache
                    step = LayerStep(layer: i, routing: routing, auxiliaryLoss: router.auxiliaryLoss(routing),
                                     zLoss: router.zLoss(softmaxCache))
                } else {
                    preconditionFailure("MoE block \(i) has no router")
                }
                var (y, moeCache) = moe.forward(f, selected: step.routing.selected, weights: step.routing.weights,
                                                topK: step.routing.topK, context: context)
                cache.moe = moeCache
                cache.routing = step.routing
                steps.append(step)
                add(middle, into: &y)
                x = y
            }
            caches.append(cache)
        }
        let (normalized, finalCache) = finalNorm.forward(x)
        var logits = Matrix(uninitializedRows: x.rows, cols: config.vocab)  // the GEMM writes every element
        gemm(normalized, tokenEmbedding.weight, transB: true, into: &logits, context: context)
        let cache = ForwardCache(tokens: tokens, positions: positions, blocks: caches, last: x,
                                 finalNorm: finalCache, normalized: normalized)
        return (logits, cache, steps)
    }

    /// Backpropagates dL/dlogits [N, V] through the whole model, accumulating every backbone gradient
    /// (and the softmax routers' gradients, which the task loss reaches through the gates).
    mutating func backward(_ dLogits: Matrix, cache: ForwardCache, settings: StepSettings) {
        let context = settings.context
        var dNormalized = Matrix(uninitializedRows: dLogits.rows, cols: config.width)  // written by the GEMM
        gemm(dLogits, tokenEmbedding.weight, into: &dNormalized, context: context)
        gemm(dLogits, transA: true, cache.normalized, into: &tokenEmbedding.gradWeight, beta: 1, context: context)
        var dx = finalNorm.backward(dNormalized, input: cache.last, cache: cache.finalNorm)
        for i in blocks.indices.reversed() {
            let c = cache.blocks[i]
            var dF: Matrix
            if let denseCache = c.dense {
                dF = blocks[i].dense?.backward(dx, cache: denseCache, context: context) ?? dx
            } else if let moeCache = c.moe {
                let (dIn, dWeights) = blocks[i].moe?.backward(dx, cache: moeCache, context: context)
                    ?? (Matrix(rows: dx.rows, cols: dx.cols), [])
                dF = dIn
                var losses = settings.softmax
                if let shares = settings.batchAssignmentShares[i] { losses.batch = (settings.tokenShare, shares) }
                if let softmaxCache = c.softmax, let routing = c.routing,
                   let dh = blocks[i].softmax?.backward(gateGrad: dWeights, result: routing, cache: softmaxCache,
                                                         losses: losses) {
                    add(dh, into: &dF)
                }
            } else {
                dF = Matrix(rows: dx.rows, cols: dx.cols)
            }
            let dMiddle = blocks[i].ffnNorm.backward(dF, input: c.middle, cache: c.ffnNorm)
            add(dMiddle, into: &dx)
            let dA = blocks[i].attention.backward(dx, cache: c.attention, context: context)
            let dInput = blocks[i].attentionNorm.backward(dA, input: c.input, cache: c.attentionNorm)
            add(dInput, into: &dx)
        }
        tokenEmbedding.backward(dx, tokens: cache.tokens)
        positionEmbedding.backward(dx, tokens: cache.positions)
    }
}

/// x += y elementwise (same shapes).
@inline(__always)
func add(_ y: Matrix, into x: inout Matrix) {
    precondition(x.data.count == y.data.count)
    x.data.withUnsafeMutableBufferPointer { px in
        y.data.withUnsafeBufferPointer { py in
            // Raw pointers: no bounds checks, so the loop vectorises.
            guard let dst = px.baseAddress, let src = py.baseAddress else { return }
            for i in 0..<px.count { dst[i] += src[i] }
        }
    }
}
