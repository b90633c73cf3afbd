import IdaNumerics

extension LayerAnalysis {
    /// Components dead on the probe (`ReactivationState.isDead`: probe usage and prior both below tau / K, usage alone under a per-expert prior) (tau: `ReactivationConfig.defaultTau`), ascending (none without
    /// component usage: softmax routers). The layer screen marks them; a click's summary counts them.
    public var deadComponents: [Int] {
        guard let usage = metrics.componentUsage else { return [] }
        return LayerMetrics.deadComponents(usage: usage, priors: priors, tau: ReactivationConfig.defaultTau, priorMass: priorMass)
    }
}
