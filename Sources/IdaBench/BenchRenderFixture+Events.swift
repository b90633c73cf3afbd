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
        mutating func events(step: Int, evalEvery: Int) -> [(String, [String: JSONValue])] {
            var out: [(String, [String: JSONValue])] = []
            let k = config.experts * config.componentsPerExpert
            let t = Double(step)
            for (slot, layer) in config.moeLayers.enumerated() where rng.unitDouble() < 0.03 {
                let component = Int(rng.next() % UInt64(k))
                let revived = dead[slot].contains(component)
                if revived { dead[slot].remove(component) } else { dead[slot].insert(component) }
                let prior = revived ? (0.5 + 0.5 * rng.unitDouble()) / Double(k) : 0.0004 * rng.unitDouble()
                out.append(("reactivation", [
                    "event": .string(revived ? "revived" : "died"), "layer": .number(Double(layer)),
                    "component": .number(Double(component)), "expert": .number(Double(component / config.componentsPerExpert)),
                    "prior": .number(round6(prior)), "usage": .number(round6(prior * 0.8)),
                ]))
            }
            var layers: [JSONValue] = []
            var cvSum = 0.0
            for (slot, layer) in config.moeLayers.enumerated() {
                let logits = skew[slot].map { $0 * Foundation.exp(-t / 800) + Double(rng.normal()) * 0.15 }
                let top = logits.max() ?? 0
                let weights = logits.map { Foundation.exp($0 - top) }
                let total = weights.reduce(0, +)
                let load = weights.map { $0 / total }
                let cv = LayerMetrics.coefficientOfVariation(load)
                cvSum += cv
                layers.append(.object([
                    "layer": .number(Double(layer)), "load": .array(load.map { .number(round6($0)) }), "cv": .number(round6(cv)),
                    "entropy": .number(round6(1.2 + 0.6 * (1 - Foundation.exp(-t / 500)) + noise(0.05))),
                    "nll": .number(round6(-20 - 25 * (1 - Foundation.exp(-t / 700)) + noise(0.5))),
                    "rec": .number(round6(0.9 * Foundation.exp(-t / 300) + 0.05 + noise(0.01))),
                    "react": .number(round6(0.01 * Double(dead[slot].count) + noise(0.001))),
                    "dead": .number(Double(dead[slot].count)),
                ]))
            }
            let loss = 1.1 + 3.2 * Foundation.exp(-t / 400) + noise(0.03)
            out.append(("step", [
                "loss": .number(round6(loss)), "lr": .number(1e-3), "router_lr": .number(1e-2),
                "grad_norm": .number(round6(0.6 + noise(0.1))), "router_grad_norm": .number(round6(0.3 + noise(0.05))),
                "tokens_per_s": .number((12_000 + noise(300)).rounded()),
                "cv_mean": .number(round6(cvSum / Double(max(1, layers.count)))), "layers": .array(layers),
            ]))
            if step % evalEvery == 0 {
                let bpb = loss / Foundation.log(2) + 0.1
                var domains: [String: JSONValue] = [:]
                for name in BenchRenderFixture.domainNames { domains[name] = .number(round6(bpb + noise(0.2))) }
                out.append(("eval", ["val_bpb": .number(round6(bpb)), "domains": .object(domains)]))
            }
            return out
        }

        /// Gaussian noise of standard deviation `scale`.
        mutating func noise(_ scale: Double) -> Double { Double(rng.normal()) * scale }

        /// Six decimals, as the trainer writes its figures.
        func round6(_ x: Double) -> Double { (x * 1e6).rounded() / 1e6 }
    }
}
