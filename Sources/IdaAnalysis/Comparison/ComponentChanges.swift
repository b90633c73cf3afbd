import IdaRouting
import IdaNumerics

/// How the Gaussian components of two IDA routers of one layer differ: priors, usage on the probe,
/// dead components on each side and, when the indices line up, what changed component by component.
///
/// "Dead" is the reactivation rule (`ReactivationState.isDead`): probe usage u_k < tau / K and, under a
/// global prior, prior pi_k < tau / K, with u_k the share of probe tokens whose most probable component is k.
public struct ComponentChanges: Sendable, Equatable {
    /// Components per expert M of A and B.
    public var componentsPerExpertA, componentsPerExpertB: Int
    /// Priors pi of A [K_A] and B [K_B].
    public var priorsA, priorsB: [Double]
    /// Probe usage u of A [K_A] and B [K_B].
    public var usageA, usageB: [Double]
    /// Dead components of A and B, ascending.
    public var deadA, deadB: [Int]
    /// How each side's priors are normalised, which decides its dead rule.
    public var priorMassA, priorMassB: PriorMass
    /// pi_B - pi_A per component [K] (nil when K_A != K_B).
    public var priorChange: [Double]?
    /// |mu_B,k - mu_A,k| (Euclidean, latent units) per component [K]; only within one run (latents of
    /// different runs live in unrelated coordinates) with equal K and P, otherwise nil.
    public var meanShift: [Double]?
    /// Components alive in A and dead in B (empty when K_A != K_B).
    public var died: [Int]
    /// Components dead in A and alive in B (empty when K_A != K_B).
    public var revived: [Int]

    /// The changes between two IDA summaries; nil when either router is not an IDA router.
    public init?(_ a: LayerRoutingSummary, _ b: LayerRoutingSummary, options: ComparisonOptions) {
        guard a.routerKind == .ida, b.routerKind == .ida,
              let piA = a.priors, let piB = b.priors else { return nil }
        let uA = a.componentUsage ?? [Double](repeating: 0, count: piA.count)
        let uB = b.componentUsage ?? [Double](repeating: 0, count: piB.count)
        componentsPerExpertA = a.componentsPerExpert
        componentsPerExpertB = b.componentsPerExpert
        priorsA = piA
        priorsB = piB
        usageA = uA
        usageB = uB
        deadA = LayerMetrics.deadComponents(usage: uA, priors: piA, tau: options.tau, priorMass: a.priorMass)
        deadB = LayerMetrics.deadComponents(usage: uB, priors: piB, tau: options.tau, priorMass: b.priorMass)
        priorMassA = a.priorMass
        priorMassB = b.priorMass
        priorChange = nil
        meanShift = nil
        died = []
        revived = []
        guard piA.count == piB.count else { return }
        priorChange = zip(piB, piA).map { $0 - $1 }
        let wasDead = Set(deadA), isDead = Set(deadB)
        died = deadB.filter { !wasDead.contains($0) }
        revived = deadA.filter { !isDead.contains($0) }
        if options.sameRun, a.latentDim == b.latentDim, let muA = a.means, let muB = b.means {
            let p = a.latentDim
            meanShift = (0..<piA.count).map { k in
                var sum = 0.0
                for j in 0..<p {
                    let d = Double(muB[k * p + j]) - Double(muA[k * p + j])
                    sum += d * d
                }
                return sum.squareRoot()
            }
        }
    }

    /// The expert of A's component k.
    public func expertA(ofComponent k: Int) -> Int { k / max(componentsPerExpertA, 1) }
    /// The expert of B's component k.
    public func expertB(ofComponent k: Int) -> Int { k / max(componentsPerExpertB, 1) }
}
