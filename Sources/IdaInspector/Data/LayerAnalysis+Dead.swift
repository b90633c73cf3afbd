import IdaNumerics

extension LayerAnalysis {
    /// Components whose probe usage and prior are both below tau / K (tau: `ReactivationConfig.defaultTau`), ascending (none without
    /// component usage: softmax routers). The layer screen marks them; a click's summary counts them.
    public var deadComponents: [Int] {
        guard let usage = metrics.componentUsage else { return [] }
        return LayerMetrics.deadComponents(usage: usage, priors: priors, tau: ReactivationConfig.defaultTau)
    }
}
