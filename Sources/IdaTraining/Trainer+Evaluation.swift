import Foundation
import IdaFormats
import IdaNumerics
import IdaRouting

extension MoETransformer {
    /// -log p(target) per token in nats, for tokens [B*T] (no gradients, nothing mutated).
    public func tokenLosses(tokens: [Int32], targets: [Int32], batch: Int, time: Int,
                            context: NumericContext = .serial) -> [Double] {
        evaluate(tokens: tokens, targets: targets, batch: batch, time: time, context: context).losses
    }

    /// -log p(target) per token in nats and every MoE layer's routing, for tokens [B*T] (no
    /// gradients, nothing mutated).
    public func evaluate(tokens: [Int32], targets: [Int32], batch: Int, time: Int,
                         context: NumericContext = .serial) -> (losses: [Double], layers: [LayerStep]) {
        var copy = self
        var settings = StepSettings()
        settings.context = context
        let (logits, _, layers) = copy.forward(tokens: tokens, batch: batch, time: time, train: false,
                                               settings: settings, reactivation: [:])
        let v = logits.cols
        var out = [Double](repeating: 0, count: logits.rows)
        logits.data.withUnsafeBufferPointer { p in
            for r in 0..<logits.rows {
                var top = -Float.infinity
                for c in 0..<v { top = max(top, p[r * v + c]) }
                var sum = 0.0
                for c in 0..<v { sum += Foundation.exp(Double(p[r * v + c] - top)) }
                out[r] = Double(top) + Foundation.log(sum) - Double(p[r * v + Int(targets[r])])
            }
        }
        return (out, layers)
    }

    /// The router input (the normalised feed-forward input) of every MoE block for tokens [B*T].
    public func routerInputs(tokens: [Int32], batch: Int, time: Int, context: NumericContext = .serial) -> [Int: Matrix] {
        var copy = self
        var settings = StepSettings()
        settings.context = context
        let (_, cache, _) = copy.forward(tokens: tokens, batch: batch, time: time, train: false,
                                         settings: settings, reactivation: [:])
        var out: [Int: Matrix] = [:]
        for i in config.moeLayers { out[i] = cache.blocks[i].ffnInput }
        return out
    }
}

extension Trainer {
    /// Validation bits per byte, overall (byte-weighted) and per domain, over the first
    /// `evalWindows` windows of T bytes of each domain's validation text, and the routing of those
    /// held-out tokens (CVmean of the top-1, top-k and gate-weighted loads, per layer and averaged
    /// over layers: the paper's CVmean, a property of the model on held-out data rather than of one
    /// training batch); appends an `eval` event.
    func validate() throws {
        let t = config.context
        var tokens: [Int32] = [], targets: [Int32] = [], owners: [Int] = []
        for (d, stream) in dataset.validation.enumerated() {
            var start = 0
            var windows = 0
            while windows < options.evalWindows && start + t + 1 <= stream.tokens.count {
                for j in 0..<t {
                    tokens.append(Int32(stream.tokens[start + j]))
                    targets.append(Int32(stream.tokens[start + j + 1]))
                }
                owners.append(d)
                start += t
                windows += 1
            }
        }
        guard !owners.isEmpty else { return }
        var sums = [Double](repeating: 0, count: dataset.domainNames.count)
        var counts = [Int](repeating: 0, count: dataset.domainNames.count)
        let chunk = max(1, options.batch)
        var routing: [Int: LayerMetricsAccumulator] = [:]
        var w = 0
        while w < owners.count {
            let n = min(chunk, owners.count - w)
            let range = (w * t)..<((w + n) * t)
            let (losses, layers) = model.evaluate(tokens: Array(tokens[range]), targets: Array(targets[range]),
                                                  batch: n, time: t, context: context)
            // Held-out CV over the domains the model trained on (held-out domains are out of domain).
            for l in layers {
                for k in 0..<n where !dataset.heldOut.contains(owners[w + k]) {
                    routing[l.layer, default: LayerMetricsAccumulator(experts: config.experts, components: 0)]
                        .add(l.routing.rows((k * t)..<((k + 1) * t)))
                }
            }
            for k in 0..<n {
                sums[owners[w + k]] += losses[(k * t)..<((k + 1) * t)].reduce(0, +)
                counts[owners[w + k]] += t
            }
            w += n
        }
        let ln2 = Foundation.log(2.0)
        var perDomain: [String: Double] = [:]
        for (d, name) in dataset.domainNames.enumerated() where counts[d] > 0 {
            perDomain[name] = sums[d] / Double(counts[d]) / ln2
        }
        // val_bpb covers the domains the model trained on; held-out domains are reported apart.
        let seen = dataset.domainNames.indices.filter { !dataset.heldOut.contains($0) }
        let overall = seen.reduce(0) { $0 + sums[$1] } / Double(seen.reduce(0) { $0 + counts[$1] }) / ln2
        guard overall.isFinite else { throw TrainingError.nonFinite(step: step, what: "the validation loss") }
        lastValidation = overall
        let metrics = routing.sorted { $0.key < $1.key }.map { ($0.key, $0.value.finish()) }
        var record = EvalEvent(bitsPerByte: overall, domains: perDomain)
        let heldOut = dataset.heldOut.sorted().filter { counts[$0] > 0 }
        if !heldOut.isEmpty {
            record.heldoutDomainsBitsPerByte = heldOut.reduce(0) { $0 + sums[$1] } / Double(heldOut.reduce(0) { $0 + counts[$1] }) / ln2
        }
        if !metrics.isEmpty {
            let count = Double(metrics.count)
            record.heldoutTokens = owners.count * t
            record.heldoutTop1 = metrics.reduce(0) { $0 + $1.1.cvTop1 } / count
            record.heldoutTopK = metrics.reduce(0) { $0 + $1.1.cv } / count
            record.heldoutGate = metrics.reduce(0) { $0 + $1.1.cvGate } / count
            record.heldoutMaxVioTop1 = metrics.reduce(0) { $0 + $1.1.maxVioTop1 } / count
            record.heldoutMaxVioTopK = metrics.reduce(0) { $0 + $1.1.maxVio } / count
            record.heldoutMaxVioGate = metrics.reduce(0) { $0 + $1.1.maxVioGate } / count
            record.layers = metrics.map { layer, m in
                EvalEvent.Layer(layer: layer, cvTop1: m.cvTop1, cvTopK: m.cv, cvGate: m.cvGate, maxVioTop1: m.maxVioTop1,
                                maxVioTopK: m.maxVio, maxVioGate: m.maxVioGate, loadTopK: m.load, loadGate: m.loadGate,
                                loadQuantiles: ReportedQuantiles(of: m.load))
            }
        }
        try run.append(RunEvent(step: step, .eval(record)))
    }
}
