import IdaNumerics

extension LayerAnalysis {
    /// Dead-component threshold factor tau (the trainer's reactivation default): a component is dead
    /// when its probe usage and its prior are both below tau / K.
    public static let deadTau = 0.1

    /// Components whose probe usage and prior are both below tau / K, ascending (none without
    /// component usage: softmax routers). The layer screen marks them; a click's summary counts them.
    public var deadComponents: [Int] {
        guard let usage = metrics.componentUsage else { return [] }
        return LayerMetrics.deadComponents(usage: usage, priors: priors, tau: Self.deadTau)
    }
}
