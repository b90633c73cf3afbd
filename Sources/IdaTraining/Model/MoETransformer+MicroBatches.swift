import Foundation
import IdaBLAS
import IdaNumerics
import IdaSystem

/// One micro-batch's forward and backward state, owned by the worker that runs it.
private final class MicroBatch: @unchecked Sendable {
    var model: MoETransformer
    let tokens: [Int32], targets: [Int32]
    let sequences: Int
    var settings: StepSettings
    var loss = 0.0
    var dLogits = Matrix(rows: 0, cols: 0)
    var cache: MoETransformer.ForwardCache?
    var layers: [LayerStep] = []
    /// Seconds this micro-batch's forward and backward passes took on their worker.
    var forwardSeconds = 0.0, backwardSeconds = 0.0

    init(model: MoETransformer, tokens: [Int32], targets: [Int32], sequences: Int, settings: StepSettings) {
        self.model = model
        self.tokens = tokens
        self.targets = targets
        self.sequences = sequences
        self.settings = settings
    }
}

/// Gradient buffers of the micro-batch replicas, kept from one step to the next so that a replica
/// zeroes its own buffers in place instead of copying the shared ones first (copy on write) and the
/// merged sum moves into the model instead of being copied.
public final class MicroBatchBuffers: @unchecked Sendable {
    var gradients: [[[Float]]] = []
    /// Where the last steps' time went (summed over steps; `bench train --phases`).
    public var timings = StepTimings()

    public init() {}
}

/// Seconds spent in each phase of the training step, summed over the steps since the last reset:
/// the micro-batches' forward passes (wall time, and the slowest and fastest worker's own), the
/// serial combination of their routings, their backward passes, the merge of their gradients,
/// then the optimizer and the reactivation bookkeeping (IDA).
public struct StepTimings: Sendable, Equatable {
    public var steps = 0
    public var forward = 0.0, forwardSlowest = 0.0, forwardFastest = 0.0
    public var combine = 0.0
    public var backward = 0.0, backwardSlowest = 0.0, backwardFastest = 0.0
    public var merge = 0.0
    public var optimizer = 0.0, reactivation = 0.0
    public var total = 0.0

    public init() {}

    /// Adds one step's forward and backward passes: their wall times and each worker's own.
    mutating func addPasses(forward: Double, forwardWorkers: [Double], backward: Double, backwardWorkers: [Double]) {
        self.forward += forward
        forwardSlowest += forwardWorkers.max() ?? 0
        forwardFastest += forwardWorkers.min() ?? 0
        self.backward += backward
        backwardSlowest += backwardWorkers.max() ?? 0
        backwardFastest += backwardWorkers.min() ?? 0
    }
}

extension MoETransformer {
    /// Swaps this model's gradient buffers with `store`'s (visit order) where `store` has them.
    mutating func exchangeGradients(_ store: inout [[Float]]) {
        var index = 0
        visitParameters { _, _, _, grad in
            if index < store.count, store[index].count == grad.count { swap(&grad, &store[index]) }
            index += 1
        }
    }

    /// Sets every gradient to those of the task loss (and the routers' own losses) over tokens
    /// [B*T], and returns the mean loss, what each MoE layer did over the whole batch and the sum of
    /// squares of each gradient in visit order (for clipping).
    ///
    /// With `groups` > 1 the batch is split by sequences into that many micro-batches, each run
    /// forward and backward on its own copy of the model on its own worker (kernels inside run on
    /// `settings.context.threads / groups` workers), and the copies' gradients are added in group
    /// order. Every per-token mean is taken over the whole batch (each micro-batch scales its
    /// gradients by its share of the tokens) and the softmax auxiliary loss holds the whole batch's
    /// assignment shares, so the sum is the whole batch's gradient, up to float rounding; the softmax
    /// routers' statistics wait for every micro-batch's forward pass. One worker per micro-batch
    /// replaces a hand-off per GEMM: small GEMMs split across cores ran at about 60% parallel
    /// efficiency (docs/decisions.md).
    mutating func accumulateGradients(tokens: [Int32], targets: [Int32], batch: Int, time: Int, groups: Int,
                                      settings: StepSettings, reactivation: [Int: ReactivationState],
                                      buffers: MicroBatchBuffers = MicroBatchBuffers())
        -> (loss: Double, layers: [LayerStep], sumsOfSquares: [Double]) {
        let g = max(1, min(groups, batch))
        guard g > 1 else {
            let t0 = monotonicSeconds()
            zeroGrad()
            let (logits, cache, layers) = forward(tokens: tokens, batch: batch, time: time, train: true,
                                                  settings: settings, reactivation: reactivation)
            let (loss, dLogits) = CrossEntropy.forward(logits: logits, targets: targets)
            let t1 = monotonicSeconds()
            backward(dLogits, cache: cache, settings: settings)
            let t2 = monotonicSeconds()
            buffers.timings.addPasses(forward: t1 - t0, forwardWorkers: [t1 - t0], backward: t2 - t1, backwardWorkers: [t2 - t1])
            let sums = GradientClipping.sumsOfSquares(context: settings.context) { visitParameters($0) }
            return (loss, layers, sums)
        }
        let total = batch * time
        var inner = settings
        inner.context = NumericContext(threads: max(1, settings.context.threads / g))
        var parts: [MicroBatch] = []
        var start = 0
        for i in 0..<g {
            let sequences = batch / g + (i < batch % g ? 1 : 0)
            let range = (start * time)..<((start + sequences) * time)
            var s = inner
            s.tokenShare = Double(range.count) / Double(total)
            var replica = self  // shares every buffer; the replica's gradients are swapped for its own
            if i < buffers.gradients.count { replica.exchangeGradients(&buffers.gradients[i]) }
            parts.append(MicroBatch(model: replica, tokens: Array(tokens[range]), targets: Array(targets[range]),
                                    sequences: sequences, settings: s))
            start += sequences
        }
        buffers.gradients = []  // now the model's old buffers, shared: dropped
        let work = parts
        let t0 = monotonicSeconds()
        DispatchQueue.concurrentPerform(iterations: g) { i in
            let p = work[i]
            let started = monotonicSeconds()
            defer { p.forwardSeconds = monotonicSeconds() - started }
            p.model.zeroGrad()  // in place on the replica's own buffers (a copy only on the first step)
            let (logits, cache, layers) = p.model.forward(tokens: p.tokens, batch: p.sequences, time: time, train: true,
                                                          settings: p.settings, reactivation: reactivation)
            (p.loss, p.dLogits) = CrossEntropy.forward(logits: logits, targets: p.targets, batchTokens: total)
            p.cache = cache
            p.layers = layers
        }
        let t1 = monotonicSeconds()
        // The whole batch's routing per MoE layer, and the softmax routers' assignment shares.
        var layers: [LayerStep] = []
        for (slot, first) in parts[0].layers.enumerated() {
            let routing = RoutingResult.concatenated(parts.map { $0.layers[slot].routing })
            var step = LayerStep(layer: first.layer, routing: routing)
            let shares = parts.map(\.settings.tokenShare)
            if first.routerLosses != nil {
                let losses = parts.compactMap { $0.layers[slot].routerLosses }
                let nll = zip(losses, shares).reduce(0) { $0 + $1.0.nll * $1.1 }
                let rec = zip(losses, shares).reduce(0) { $0 + $1.0.reconstruction * $1.1 }
                let react = losses[0].reactivation  // a sum over components, the same in every part
                step.routerLosses = RouterLosses(nll: nll, reconstruction: rec, reactivation: react,
                                                 total: nll + settings.router.reconstruction * rec
                                                     + settings.router.reactivation * react)
            }
            if let router = blocks[first.layer].softmax {
                step.auxiliaryLoss = router.auxiliaryLoss(routing)
                step.zLoss = zip(parts, shares).reduce(0) { $0 + ($1.0.layers[slot].zLoss ?? 0) * $1.1 }
                var counts = [Double](repeating: 0, count: routing.experts)
                for e in routing.selected { counts[Int(e)] += 1 }
                let assignments = Double(max(routing.selected.count, 1))
                for p in parts { p.settings.batchAssignmentShares[first.layer] = counts.map { $0 / assignments } }
            }
            layers.append(step)
        }
        let t2 = monotonicSeconds()
        DispatchQueue.concurrentPerform(iterations: g) { i in
            let p = work[i]
            let started = monotonicSeconds()
            defer { p.backwardSeconds = monotonicSeconds() - started }
            guard let cache = p.cache else { return }
            p.model.backward(p.dLogits, cache: cache, settings: p.settings)
            p.cache = nil
        }
        let t3 = monotonicSeconds()
        // Gradients: the parts' sums in group order, added into part 0's buffers, which then move into
        // this model; its old buffers and the other parts' go back to `buffers` for the next step.
        var boxes: [[FloatBox]] = []
        for p in parts {
            var mine: [FloatBox] = []
            p.model.visitParameters { _, _, _, grad in mine.append(FloatBox.take(&grad)) }
            boxes.append(mine)
        }
        let sums = TensorPass.addParts(boxes, context: settings.context)
        var index = 0
        visitParameters { _, _, _, grad in
            let old = FloatBox.take(&grad)
            boxes[0][index].give(to: &grad)
            boxes[0][index] = old
            index += 1
        }
        buffers.gradients = boxes.map { $0.map(\.array) }
        let loss = zip(parts, parts.map(\.settings.tokenShare)).reduce(0) { $0 + $1.0.loss * $1.1 }
        let t4 = monotonicSeconds()
        buffers.timings.addPasses(forward: t1 - t0, forwardWorkers: parts.map(\.forwardSeconds),
                                  backward: t3 - t2, backwardWorkers: parts.map(\.backwardSeconds))
        buffers.timings.combine += t2 - t1
        buffers.timings.merge += t4 - t3
        return (loss, layers, sums)
    }
}
