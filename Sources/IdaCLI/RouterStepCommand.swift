import ArgumentParser
import Foundation
import IdaFormats
import IdaNumerics
import IdaRouting

/// `idamoe router-step` (hidden; for the PyTorch package's tests): trains every IDA router of a
/// checkpoint for a few plain gradient-descent steps on a probe's hidden states, exactly as the trainer
/// computes a router step (`IDARouter.trainStep`, then `ReactivationState.observe` after the update),
/// and writes the updated routers. No clipping, no AdamW: the update is p - lr * dL/dp, so the written
/// parameters show the gradients themselves.
struct RouterStepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "router-step",
        abstract: "Gradient-descent steps of a checkpoint's IDA routers on a probe's hidden states (for tests).",
        discussion: """
            Each step routes all probe tokens of every MoE layer through its router (the batch), \
            accumulates the router loss L_nll + lambda_rec L_rec + lambda_react L_react, updates every \
            router parameter by -lr * gradient, then updates the reactivation state (seed + block index, as \
            the trainer seeds it). Prints one JSON line per step and layer (nll, rec, react, dead) and per \
            reactivation event.
            """,
        shouldDisplay: false)

    @Option(help: "Checkpoint (.safetensors) with IDA routers.") var checkpoint: String
    @Option(help: "Probe (.safetensors) whose hidden states are the batch.") var probe: String
    @Option(help: "Where to write the updated checkpoint.") var out: String
    @Option(help: "Steps.") var steps = 1
    @Option(help: "Learning rate of the plain gradient step.") var lr: Double = 0.01
    @Option(name: .customLong("lambda-rec"), help: "Reconstruction loss weight.") var lambdaRec = 1.0
    @Option(name: .customLong("lambda-react"), help: "Reactivation loss weight.") var lambdaReact = 1.0
    @Flag(name: .customLong("nll-to-encoder"), help: "L_nll's gradient reaches the encoder.") var nllToEncoder = false
    @Option(help: "Reactivation mode.") var reactivation = ReactivationMode.off
    @Option(name: .customLong("react-every"), help: "Steps between dead-component checks.") var reactEvery = 50
    @Option(name: .customLong("react-steps"), help: "Steps of reactivation pull.") var reactSteps = 20
    @Option(name: .customLong("react-tau"), help: "Dead threshold tau.") var reactTau = ReactivationConfig.defaultTau
    @Option(name: .customLong("usage-decay"), help: "Decay of the usage EMA.") var usageDecay = 0.99
    @Option(help: "Where reactivated components go (outliers or split; pool needs a trainer's history).") var reseed = Reseed.outliers
    @Option(help: "Seed of the reactivation draws (each block adds its index).") var seed: UInt64 = 1

    func validate() throws {
        if steps < 1 { throw ValidationError("--steps must be at least 1") }
        if !lr.isFinite || lr < 0 { throw ValidationError("--lr must be 0 or more") }
        if reactEvery < 1 || reactSteps < 1 { throw ValidationError("--react-every and --react-steps must be at least 1") }
        if reseed == .pool { throw ValidationError("--reseed pool is not offered here: its pool is built over a trainer's batches") }
    }

    func run() throws {
        var ck = try RouterCheckpoint(path: checkpoint)
        guard ck.info.router == .ida else {
            throw ValidationError("\(checkpoint): router-step trains IDA routers; this checkpoint holds \(ck.info.router.rawValue) routers")
        }
        let pr = try Probe(path: probe)
        let config = ReactivationConfig(mode: reactivation, every: reactEvery, steps: reactSteps, tau: reactTau,
                                        usageDecay: usageDecay, reseed: reseed)
        let weights = RouterLossWeights(reconstruction: lambdaRec, reactivation: lambdaReact, nllToEncoder: nllToEncoder)
        var batches: [Int: Matrix] = [:]
        var states: [Int: ReactivationState] = [:]
        for i in ck.info.moeLayers {
            batches[i] = try pr.hidden(layer: i, rows: 0..<pr.count)
            states[i] = ReactivationState(components: ck.info.config.components, config: config, seed: seed &+ UInt64(i))
        }
        let scale = Float(lr)
        for step in 1...steps {
            for i in ck.info.moeLayers {
                guard case var .ida(router)? = ck.routers[i], let h = batches[i], var state = states[i] else { continue }
                router.zeroGrad()
                let (routing, losses) = router.trainStep(h, weights: weights, reactivation: state)
                router.visitParameters { _, _, value, grad in
                    for j in value.indices { value[j] -= scale * grad[j] }
                }
                let events = state.observe(step: step, result: routing, gmm: &router.gmm,
                                           componentsPerExpert: ck.info.config.componentsPerExpert)
                ck.routers[i] = .ida(router)
                states[i] = state
                try StandardOutput.line(JSONValue.object([
                    "step": .number(Double(step)), "layer": .number(Double(i)), "nll": .number(losses.nll),
                    "rec": .number(losses.reconstruction), "react": .number(losses.reactivation),
                    "dead": .number(Double(state.deadCount)),
                ]).serialized())
                for e in events {
                    try StandardOutput.line(JSONValue.object([
                        "step": .number(Double(step)), "layer": .number(Double(i)), "event": .string(e.kind.rawValue),
                        "component": .number(Double(e.component)), "expert": .number(Double(e.expert)),
                        "prior": .number(e.prior), "usage": .number(e.usage),
                    ]).serialized())
                }
            }
        }
        ck.info.step = (ck.info.step ?? 0) + steps
        try ck.write(to: out)
    }
}
