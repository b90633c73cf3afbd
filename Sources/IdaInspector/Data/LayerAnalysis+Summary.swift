import IdaAnalysis
import IdaRouting

extension LayerRoutingSummary {
    /// The comparison's view of an analysed layer: the same per-token decisions and router parameters
    /// `LayerRoutingSummary.build` would collect, taken from the analysis instead of routing again.
    init(_ la: LayerAnalysis, router: LayerRouter) {
        self.init(layer: la.layer, routerKind: router.kind, experts: router.experts, componentsPerExpert: 0,
                  topK: la.topK, selected: la.selected, entropyBits: la.entropy, load: la.metrics.load,
                  cv: la.metrics.cv, topComponent: nil, componentUsage: nil, priors: nil, means: nil, latentDim: 0)
        if case let .ida(r) = router {
            routerKind = .ida
            componentsPerExpert = r.config.componentsPerExpert
            topComponent = la.topComponent
            componentUsage = la.metrics.componentUsage
            priors = r.gmm.priors
            priorMass = r.config.priorMass
            means = r.gmm.means.data
            latentDim = r.config.latentDim
        }
    }
}
