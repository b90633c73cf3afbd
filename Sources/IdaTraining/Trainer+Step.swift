import Foundation
import IdaBLAS
import IdaFormats
import IdaNumerics
import IdaRouting
import IdaSystem

/// What one training step measured, ready for the event log.
struct StepSummary {
    var loss: Double
    var learningRate: Float
    var routerLearningRate: Float
    var gradNorm: Double
    var routerGradNorm: Double
    var layers: [LayerStep]
    var dead: [Int: Int]
    var loads: [[Double]]

    /// Mean CV of the expert load over MoE layers.
    var cvMean: Double {
        loads.isEmpty ? 0 : loads.map(LayerMetrics.coefficientOfVariation).reduce(0, +) / Double(loads.count)
    }

    /// The `step` event (docs/format.md).
    func event(tokensPerSecond: Double) -> StepEvent {
        let records = layers.enumerated().map { slot, l in
            StepEvent.Layer(layer: l.layer, load: loads[slot], cv: LayerMetrics.coefficientOfVariation(loads[slot]),
                            maxVio: LayerMetrics.maxViolation(loads[slot]), loadQuantiles: ReportedQuantiles(of: loads[slot]),
                            entropy: mean(l.routing.entropyBits), nll: l.routerLosses?.nll,
                            rec: l.routerLosses?.reconstruction, react: l.routerLosses?.reactivation,
                            dead: l.routerLosses == nil ? nil : dead[l.layer] ?? 0, aux: l.auxiliaryLoss, z: l.zLoss)
        }
        return StepEvent(loss: loss, lr: Double(learningRate), routerLR: Double(routerLearningRate), gradNorm: gradNorm,
                         routerGradNorm: routerGradNorm, tokensPerSecond: tokensPerSecond.rounded(), cvMean: cvMean, layers: records)
    }
}

func mean(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }

extension Trainer {
    /// Zero, forward, backward, clip, update; then reactivation bookkeeping.
    func trainStep() throws -> StepSummary {
        step += 1
        let stepStarted = monotonicSeconds()
        defer {
            microBatchBuffers.timings.steps += 1
            microBatchBuffers.timings.total += monotonicSeconds() - stepStarted
        }
        let (inputs, targets) = sampler.next(from: dataset.train, batch: options.batch, time: config.context)
        var settings = StepSettings()
        settings.context = context
        settings.router = RouterLossWeights(reconstruction: options.reconstructionWeight,
                                            reactivation: options.reactivationWeight,
                                            nllToEncoder: options.nllToEncoder ?? false)
        settings.softmax = SoftmaxLossWeights(auxiliary: options.auxLoss, z: options.zLoss)
        // One micro-batch per worker (docs/decisions.md, "Training step: micro-batches").
        let (loss, layers, sums) = model.accumulateGradients(tokens: inputs, targets: targets, batch: options.batch,
                                                             time: config.context, groups: context.threads,
                                                             settings: settings, reactivation: reactivation,
                                                             buffers: microBatchBuffers)
        guard loss.isFinite else { throw TrainingError.nonFinite(step: step, what: "the training loss") }

        // Backbone and router gradients are clipped separately: they answer to different losses. The
        // norms come from the step's sums of squares; the clipping factor is applied inside AdamW.
        let ida = config.router == .ida
        let isRouter = { (name: String) in ida && MoETransformer.isRouterParameter(name) }
        var backboneSum = 0.0, routerSum = 0.0, index = 0
        model.visitParameters { name, _, _, _ in
            if isRouter(name) { routerSum += sums[index] } else { backboneSum += sums[index] }
            index += 1
        }
        let gradNorm = backboneSum.squareRoot(), routerNorm = routerSum.squareRoot()
        guard gradNorm.isFinite, routerNorm.isFinite else {
            throw TrainingError.nonFinite(step: step, what: "the gradient norm")
        }
        let backboneScale = GradientClipping.factor(norm: gradNorm, maxNorm: options.gradientClip) ?? 1
        let routerScale = GradientClipping.factor(norm: routerNorm, maxNorm: options.gradientClip) ?? 1
        let lr = LearningRateSchedule(peak: options.learningRate, warmup: options.warmup, total: options.steps,
                                      minRatio: options.minLearningRateRatio).rate(at: step)
        let routerFloor = options.routerSchedule == .constant ? 1 : options.minLearningRateRatio
        let routerLR = LearningRateSchedule(peak: options.routerLearningRate, warmup: options.warmup,
                                            total: options.steps, minRatio: routerFloor).rate(at: step)
        let optimizerStarted = monotonicSeconds()
        optimizer.beginStep()
        var optimizer = self.optimizer
        self.optimizer = AdamW()  // keep the moments uniquely referenced while updating in place
        optimizer.update(context: context, setting: { name, shape in
            let router = isRouter(name)
            let decay = !router && shape.count == 2 && !name.hasPrefix("pos_emb") && !name.hasPrefix("tok_emb")
            return AdamW.Setting(learningRate: router ? routerLR : lr, decay: decay,
                                 gradScale: router ? routerScale : backboneScale)
        }, visit: { model.visitParameters($0) })
        self.optimizer = optimizer
        // Sigmoid-bias routers: each expert's selection bias moves toward balance by this step's load.
        if config.router == .sigmoidBias {
            let rate = Float(options.biasRate ?? 0)
            for l in layers { model.blocks[l.layer].softmax?.updateSelectionBias(l.routing, rate: rate) }
        }

        let reactivationStarted = monotonicSeconds()
        microBatchBuffers.timings.optimizer += reactivationStarted - optimizerStarted
        defer { microBatchBuffers.timings.reactivation += monotonicSeconds() - reactivationStarted }
        // Reactivation sees this step's routing after the update (docs/decisions.md).
        var dead: [Int: Int] = [:]
        for l in layers where model.blocks[l.layer].ida != nil {
            guard var state = reactivation[l.layer], var router = model.blocks[l.layer].ida else { continue }
            model.blocks[l.layer].ida = nil
            let events = state.observe(step: step, result: l.routing, gmm: &router.gmm,
                                       componentsPerExpert: config.componentsPerExpert)
            model.blocks[l.layer].ida = router
            reactivation[l.layer] = state
            dead[l.layer] = state.deadCount
            for e in events {
                try run.append(RunEvent(step: step, .reactivation(ReactivationEvent(
                    event: e.kind.rawValue, layer: l.layer, component: e.component, expert: e.expert, prior: e.prior, usage: e.usage))))
            }
        }
        let loads = layers.map { l -> [Double] in
            var counts = [Double](repeating: 0, count: config.experts)
            for s in l.routing.selected { counts[Int(s)] += 1 }
            let total = counts.reduce(0, +)
            return counts.map { total > 0 ? $0 / total : 0 }
        }
        return StepSummary(loss: loss, learningRate: lr, routerLearningRate: routerLR, gradNorm: gradNorm,
                           routerGradNorm: routerNorm, layers: layers, dead: dead, loads: loads)
    }
}
