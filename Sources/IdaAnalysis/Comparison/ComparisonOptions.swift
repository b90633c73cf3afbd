import IdaNumerics
import IdaRouting
/// What a layer comparison needs to know beyond the two routings.
public struct ComparisonOptions: Sendable, Equatable {
    /// Whether A and B come from the same training run, so that expert indices, component indices and
    /// latent coordinates mean the same thing on both sides.
    public var sameRun: Bool
    /// Threshold of the dead-component rule: dead when probe usage and prior are both below tau / K
    /// (the reactivation rule of docs/decisions.md).
    public var tau: Double
    /// Domain of each probe token [N], when the probe has domains.
    public var domains: [Int32]?
    /// Domain names indexed by domain id (may be shorter than the ids used).
    public var domainNames: [String]

    /// Options; `tau` defaults to the trainer's 0.1.
    public init(sameRun: Bool, tau: Double = ReactivationConfig.defaultTau, domains: [Int32]? = nil, domainNames: [String] = []) {
        self.sameRun = sameRun
        self.tau = tau
        self.domains = domains
        self.domainNames = domainNames
    }
}
