import Foundation

/// What happens to a component found dead (docs/decisions.md, "Component reactivation").
public enum ReactivationMode: String, Sendable, CaseIterable {
    /// Pull the dead component toward a poorly explained latent with L_react for a few steps.
    case loss
    /// Move the component onto that latent at once.
    case reset
    /// Report dead and revived components, change nothing.
    case off
}

/// Where a reset or pulled component is sent (`train --reseed`).
public enum Reseed: String, Sendable, CaseIterable {
    /// A latent of the check's batch drawn with probability proportional to softmax(-log p(z)): in
    /// practice the batch's most extreme outliers.
    case outliers
    /// A latent drawn uniformly from a pool of the worst-explained tenth of each of the last four
    /// batches: poorly explained regions rather than single outliers.
    case pool
    /// A latent of the check's batch won by one of the most used live components (the busiest first,
    /// one donor per dead component), and, on a reset, that donor's variances: the dead component
    /// takes over part of a region where tokens are, rather than an outlier nobody else explains
    /// (docs/decisions.md, "Reactivation that revives").
    case split
}

extension Reseed: NamedChoice {}

/// Settings of dead-component detection and reactivation.
public struct ReactivationConfig: Sendable, Equatable {
    /// The dead threshold tau: a component is dead when its usage and prior are both below tau / K. The
    /// one home of 0.1: training, the probe's "dead" (route, diff, the inspector) and the Python package.
    public static let defaultTau = 0.1
    /// What to do with dead components.
    public var mode: ReactivationMode
    /// Check for dead components every this many steps.
    public var every: Int
    /// Steps for which L_react pulls a dead component.
    public var steps: Int
    /// A component is dead when usage and prior are both below tau / K (usage alone under a per-expert
    /// prior, where an unused expert's components keep their share of its fixed mass).
    public var tau: Double
    /// Decay of the usage EMA.
    public var usageDecay: Double
    /// Where reactivated components go.
    public var reseed: Reseed

    /// The defaults: reset (docs/decisions.md, "Defaults"), every 50 steps, 20 steps of pull (loss
    /// mode), tau 0.1, decay 0.99.
    public init(mode: ReactivationMode = .reset, every: Int = 50, steps: Int = 20, tau: Double = ReactivationConfig.defaultTau,
                usageDecay: Double = 0.99, reseed: Reseed = .outliers) {
        self.reseed = reseed
        self.mode = mode
        self.every = every
        self.steps = steps
        self.tau = tau
        self.usageDecay = usageDecay
    }
}

/// A component that died, was intervened on, or came back.
public struct ReactivationEvent: Sendable, Equatable {
    /// What happened to the component (docs/decisions.md, "Reading of component reactivation").
    public enum Kind: String, Sendable, CaseIterable {
        /// Usage and prior both fell below tau/K at a check.
        case died
        /// An intervention (`--reactivation reset`): the component was moved onto a poorly explained
        /// latent with the mean prior. Says nothing about whether it is used again.
        case reset
        /// An intervention (`--reactivation loss`): L_react started pulling the component toward a
        /// poorly explained latent.
        case pulled
        /// A dead component's usage (the EMA of the share of tokens it wins, a window of about
        /// 1/(1 - decay) steps) is back at or above tau/K at a check: it wins tokens again.
        case revived
    }
    /// What happened.
    public var kind: Kind
    /// Component index k.
    public var component: Int
    /// Expert owning the component, floor(k / M).
    public var expert: Int
    /// Its prior pi_k when it happened.
    public var prior: Double
    /// Its usage EMA when it happened.
    public var usage: Double
}

/// Per-router bookkeeping of component usage, dead components and their reactivation targets.
public struct ReactivationState: Sendable, Equatable {
    /// Settings.
    public var config: ReactivationConfig

    /// The one definition of a dead component, for training (usage an EMA of training batches) and for
    /// a probe (usage its share of the probe's tokens): usage below tau/K and, under a global prior,
    /// the prior too; under a per-expert prior usage alone (an unused expert's components keep their
    /// share of its fixed 1/E mass).
    public static func isDead(usage: Double, prior: Double, threshold: Double, priorMass: PriorMass) -> Bool {
        usage < threshold && (priorMass == .perExpert || prior < threshold)
    }

    /// `isDead` in words, for every screen and report that states the rule: what falls below tau/K in
    /// a dead component ("usage and prior", or "usage" under a per-expert prior) and what stays at or
    /// above it in a live one ("usage or prior", or "usage").
    public static func deadRuleWords(_ priorMass: PriorMass) -> (dead: String, alive: String) {
        priorMass == .perExpert ? ("usage", "usage") : ("usage and prior", "usage or prior")
    }
    /// Usage EMA u [K]: share of tokens whose most probable component is k; the first observed batch
    /// sets it (not a fair-share guess), so a check can find dead components from the first one.
    public var usage: [Double]
    /// Whether `usage` holds observed shares yet (false until the first `observe`).
    public var observed = false
    /// Components currently dead [K].
    public var dead: [Bool]
    /// Target latent z* per component [K][P], empty when it has none.
    public var targets: [[Float]]
    /// Steps of L_react left per component [K].
    public var remaining: [Int]
    /// Interventions on each component since it last revived [K] (`react.{i}.attempts` in snapshots).
    public var attempts: [Int]
    /// Checks each dead component still waits before its next intervention [K] (`react.{i}.wait`):
    /// after its n-th intervention without reviving it waits min(2^(n-1), `maxBackoff`) checks, so a
    /// component that does not come back is not moved every check for ever.
    public var wait: [Int]
    /// The longest back-off, in checks.
    public static let maxBackoff = 8
    /// `Reseed.pool`: the worst-explained latents of the last `poolBatches` batches, oldest first
    /// (saved in snapshots as `react.{i}.pool`, so a resumed run continues with it).
    public var pool: [[Float]] = []
    /// Batches the pool covers.
    public static let poolBatches = 4
    /// Generator for drawing targets.
    public var rng: SeededGenerator

    /// Fresh state for K components: usage reads 1/K until the first observed batch replaces it.
    public init(components: Int, config: ReactivationConfig = ReactivationConfig(), seed: UInt64 = 0) {
        self.config = config
        self.usage = [Double](repeating: 1 / Double(max(components, 1)), count: components)
        self.dead = [Bool](repeating: false, count: components)
        self.targets = [[Float]](repeating: [], count: components)
        self.remaining = [Int](repeating: 0, count: components)
        self.attempts = [Int](repeating: 0, count: components)
        self.wait = [Int](repeating: 0, count: components)
        self.rng = SeededGenerator(seed: seed)
    }

    /// Number of components flagged dead.
    public var deadCount: Int { dead.filter { $0 }.count }

    /// Adds weight * L_react, L_react = sum over pulled k of mean_j (mu_kj - z*_j)^2 + (a_k - stopgrad(mean a))^2,
    /// the mean over k's prior group (all K, or its expert's M), to the GMM's gradients and returns the
    /// unweighted loss.
    public func accumulateLoss(gmm: inout DiagonalGMM, weight: Double) -> Double {
        let p = gmm.latentDim
        var loss = 0.0
        for k in 0..<gmm.components where remaining[k] > 0 && targets[k].count == p {
            for j in 0..<p {
                let diff = Double(gmm.means[k, j]) - Double(targets[k][j])
                loss += diff * diff / Double(p)
                gmm.gradMeans[k, j] += Float(weight * 2 * diff / Double(p))
            }
            let da = Double(gmm.logits[k]) - gmm.meanGroupLogit(ofComponent: k)
            loss += da * da
            gmm.gradLogits[k] += Float(weight * 2 * da)
        }
        return loss
    }

    /// Updates usage from a routed batch, and every `every` steps marks dead and revived components and
    /// intervenes on the dead ones (reset or pull toward latents drawn from the batch with probability
    /// softmax(-log p(z))). Returns the events: died and revived in component order, then the
    /// interventions.
    public mutating func observe(step: Int, result: RoutingResult, gmm: inout DiagonalGMM,
                                 componentsPerExpert m: Int) -> [ReactivationEvent] {
        let k = usage.count
        guard let top = result.topComponent, result.tokens > 0 else { return [] }
        var counts = [Double](repeating: 0, count: k)
        for c in top { counts[Int(c)] += 1 }
        let decay = config.usageDecay
        if observed {
            for c in 0..<k { usage[c] = decay * usage[c] + (1 - decay) * counts[c] / Double(result.tokens) }
        } else {
            for c in 0..<k { usage[c] = counts[c] / Double(result.tokens) }
            observed = true
        }
        for c in 0..<k where remaining[c] > 0 { remaining[c] -= 1 }
        if config.reseed == .pool, config.mode != .off, let z = result.latents, let density = result.logDensity {
            addToPool(z, logDensity: density)
        }
        guard config.every > 0, step > 0, step % config.every == 0 else { return [] }

        let threshold = config.tau / Double(k)
        let priors = gmm.priors
        var events: [ReactivationEvent] = []
        var needTarget: [Int] = []
        for c in 0..<k {
            // Dead needs both low; revived needs usage alone back up (an intervention restores the
            // prior at once, which says nothing about use). Under a per-expert prior an expert's mass
            // is fixed, so an expert nobody routes to keeps its components' priors near 1/K for ever:
            // there usage alone decides (docs/decisions.md, "Expert-level prior mass").
            let unused = usage[c] < threshold
            let low = Self.isDead(usage: usage[c], prior: priors[c], threshold: threshold,
                                  priorMass: gmm.priorGroups > 1 ? .perExpert : .global)
            if dead[c] && !unused {
                dead[c] = false
                remaining[c] = 0
                targets[c] = []
                attempts[c] = 0
                wait[c] = 0
                events.append(ReactivationEvent(kind: .revived, component: c, expert: c / m, prior: priors[c], usage: usage[c]))
            } else if !dead[c] && low {
                dead[c] = true
                needTarget.append(c)
                events.append(ReactivationEvent(kind: .died, component: c, expert: c / m, prior: priors[c], usage: usage[c]))
            } else if dead[c] && remaining[c] == 0 {
                if wait[c] > 0 { wait[c] -= 1 } else { needTarget.append(c) }
            }
        }
        guard config.mode != .off, !needTarget.isEmpty, let z = result.latents, let density = result.logDensity else {
            return events
        }
        let fromPool = config.reseed == .pool && !pool.isEmpty
        let donors = config.reseed == .split ? splitDonors(count: needTarget.count, top: top) : []
        let drawn = !donors.isEmpty ? drawFromDonors(donors, top: top)
            : fromPool ? drawFromPool(count: needTarget.count) : drawPoorlyExplained(count: needTarget.count, logDensity: density)
        // Each reset logit takes its prior group's mean from before any reset of this check.
        let groupMeanLogit = (0..<gmm.priorGroups).map { gmm.meanGroupLogit(ofComponent: $0 * gmm.priorGroupSize) }
        for (i, (c, row)) in zip(needTarget, drawn).enumerated() {
            let target = fromPool ? pool[row] : Array(z.data[(row * z.cols)..<((row + 1) * z.cols)])
            events.append(ReactivationEvent(kind: config.mode == .reset ? .reset : .pulled, component: c,
                                            expert: c / m, prior: priors[c], usage: usage[c]))
            attempts[c] += 1
            wait[c] = min(1 << min(attempts[c] - 1, 30), Self.maxBackoff) - 1
            if config.mode == .reset {
                let donor = i < donors.count ? donors[i] : nil
                for j in 0..<z.cols {
                    gmm.means[c, j] = target[j]
                    if let donor {
                        gmm.logVars[c, j] = gmm.logVars[donor, j]
                    } else {
                        var meanS = 0.0
                        for other in 0..<k { meanS += Double(gmm.logVars[other, j]) }
                        gmm.logVars[c, j] = Float(meanS / Double(k))
                    }
                }
                gmm.logits[c] = Float(groupMeanLogit[gmm.priorGroup(ofComponent: c)])
            } else {
                targets[c] = target
                remaining[c] = config.steps
            }
        }
        return events
    }

    /// Adds the batch's worst-explained tenth of latents (lowest log p(z), at least one) to the pool and
    /// drops what is older than `poolBatches` batches.
    mutating func addToPool(_ z: Matrix, logDensity: [Double]) {
        let n = min(z.rows, logDensity.count)
        guard n > 0 else { return }
        let take = max(1, n / 10)
        let worst = (0..<n).sorted { logDensity[$0] < logDensity[$1] || (logDensity[$0] == logDensity[$1] && $0 < $1) }.prefix(take)
        for r in worst { pool.append(Array(z.data[(r * z.cols)..<((r + 1) * z.cols)])) }
        let capacity = Self.poolBatches * take
        if pool.count > capacity { pool.removeFirst(pool.count - capacity) }
    }

    /// `Reseed.split`: the live components that won the most of the check's batch, busiest first, one
    /// per dead component (cycling when there are fewer); empty when no live component won a token.
    func splitDonors(count: Int, top: [Int32]) -> [Int] {
        var wins = [Int](repeating: 0, count: usage.count)
        for c in top { wins[Int(c)] += 1 }
        let live = wins.indices.filter { !dead[$0] && wins[$0] > 0 }.sorted { wins[$0] != wins[$1] ? wins[$0] > wins[$1] : $0 < $1 }
        guard !live.isEmpty else { return [] }
        return (0..<count).map { live[$0 % live.count] }
    }

    /// For each donor, a token row of the batch it won, drawn uniformly.
    mutating func drawFromDonors(_ donors: [Int], top: [Int32]) -> [Int] {
        var rows: [Int: [Int]] = [:]
        for (r, c) in top.enumerated() { rows[Int(c), default: []].append(r) }
        return donors.map { donor in
            let own = rows[donor] ?? [0]
            return own[Int(rng.unitDouble() * Double(own.count)) % own.count]
        }
    }

    /// `count` pool indices drawn uniformly, without replacement while the pool lasts.
    mutating func drawFromPool(count: Int) -> [Int] {
        var order = Array(pool.indices), out: [Int] = []
        for i in 0..<count {
            if i % order.count == 0 { order.shuffle(using: &rng) }
            out.append(order[i % order.count])
        }
        return out
    }

    /// Draws `count` token rows with probability proportional to softmax(-log p(z)), without replacement
    /// while rows remain.
    mutating func drawPoorlyExplained(count: Int, logDensity: [Double]) -> [Int] {
        let n = logDensity.count
        let top = logDensity.map { -$0 }.max() ?? 0
        var weights = logDensity.map { Foundation.exp(-$0 - top) }
        var rows: [Int] = []
        for _ in 0..<count {
            var total = weights.reduce(0, +)
            if total <= 0 {
                weights = logDensity.map { Foundation.exp(-$0 - top) }
                total = weights.reduce(0, +)
            }
            var pick = rng.unitDouble() * total
            var chosen = n - 1
            for i in 0..<n {
                pick -= weights[i]
                if pick < 0 { chosen = i; break }
            }
            rows.append(chosen)
            weights[chosen] = 0
        }
        return rows
    }
}
