import Foundation
import IdaRouting
import IdaFormats
import IdaNumerics
import IdaTraining

extension BenchRenderFixture {
    /// A plausible training log, one step at a time, with the fields and rounding the trainer writes:
    /// loss falling, expert load evening out from a skewed start, components dying and reviving,
    /// validation every `evalEvery` steps.
    public struct EventHistory {
        let config: ModelConfig
        var rng: SeededGenerator
        /// Per MoE layer, per expert: the log-load skew the run starts with [layers][E].
        var skew: [[Double]]
        /// Per MoE layer: components currently dead.
        var dead: [Set<Int>]

        /// A history for `config`'s MoE layers.
        init(config: ModelConfig, seed: UInt64) {
            self.config = config
            var rng = SeededGenerator(seed: seed &+ 50)
            skew = config.moeLayers.map { _ in (0..<config.experts).map { _ in Double(rng.normal()) * 1.2 } }
            dead = config.moeLayers.map { _ in [] }
            self.rng = rng
        }

        /// The events of `step` in the trainer's order: reactivations, the step, then an eval when due.
        mutating func events(step: Int, evalEvery: Int) -> [RunEvent.Body] {
            var out: [RunEvent.Body] = []
            let k = config.experts * config.componentsPerExpert
            let t = Double(step)
            for (slot, layer) in config.moeLayers.enumerated() where rng.unitDouble() < 0.03 {
                let component = Int(rng.next() % UInt64(k))
                let revived = dead[slot].contains(component)
                if revived { dead[slot].remove(component) } else { dead[slot].insert(component) }
                let prior = revived ? (0.5 + 0.5 * rng.unitDouble()) / Double(k) : 0.0004 * rng.unitDouble()
                out.append(.reactivation(ReactivationEvent(event: revived ? "revived" : "died", layer: layer, component: component,
                                                           expert: component / config.componentsPerExpert, prior: prior,
                                                           usage: prior * 0.8)))
            }
            var layers: [StepEvent.Layer] = []
            var cvSum = 0.0
            for (slot, layer) in config.moeLayers.enumerated() {
                let logits = skew[slot].map { $0 * Foundation.exp(-t / 800) + Double(rng.normal()) * 0.15 }
                let top = logits.max() ?? 0
                let weights = logits.map { Foundation.exp($0 - top) }
                let total = weights.reduce(0, +)
                let load = weights.map { $0 / total }
                let cv = LayerMetrics.coefficientOfVariation(load)
                cvSum += cv
                let entropy = 1.2 + 0.6 * (1 - Foundation.exp(-t / 500)) + noise(0.05)
                let nll = -20 - 25 * (1 - Foundation.exp(-t / 700)) + noise(0.5)
                let rec = 0.9 * Foundation.exp(-t / 300) + 0.05 + noise(0.01)
                let react = 0.01 * Double(dead[slot].count) + noise(0.001)
                layers.append(StepEvent.Layer(layer: layer, load: load, cv: cv, loadQuantiles: ReportedQuantiles(of: load),
                                              entropy: entropy, nll: nll, rec: rec, react: react, dead: dead[slot].count))
            }
            let loss = 1.1 + 3.2 * Foundation.exp(-t / 400) + noise(0.03)
            let gradNorm = 0.6 + noise(0.1), routerGradNorm = 0.3 + noise(0.05)
            let tokensPerSecond = (12_000 + noise(300)).rounded()
            out.append(.step(StepEvent(loss: loss, lr: 1e-3, routerLR: 1e-2, gradNorm: gradNorm, routerGradNorm: routerGradNorm,
                                       tokensPerSecond: tokensPerSecond, cvMean: cvSum / Double(max(1, layers.count)),
                                       layers: layers)))
            if step % evalEvery == 0 {
                let bpb = loss / Foundation.log(2) + 0.1
                var domains: [String: Double] = [:]
                for name in BenchRenderFixture.domainNames { domains[name] = bpb + noise(0.2) }
                out.append(.eval(EvalEvent(bitsPerByte: bpb, domains: domains)))
            }
            return out
        }

        /// Gaussian noise of standard deviation `scale`.
        mutating func noise(_ scale: Double) -> Double { Double(rng.normal()) * scale }
    }
}
