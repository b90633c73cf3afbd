import IdaRouting
import IdaNumerics

/// What one checkpoint's router of one MoE layer did with a probe: the per-token decisions (small
/// arrays, linear in N; no posteriors) and the router's own parameters that a comparison reads.
public struct LayerRoutingSummary: Sendable, Equatable {
    /// MoE block index.
    public var layer: Int
    /// Router kind.
    public var routerKind: RouterKind
    /// Experts E.
    public var experts: Int
    /// Components per expert M (0 for softmax routers).
    public var componentsPerExpert: Int
    /// Experts per token k.
    public var topK: Int
    /// Chosen experts [N, k], token-major, best first.
    public var selected: [Int32]
    /// Routing entropy per token [N], bits.
    public var entropyBits: [Float]
    /// Share of the N*k assignments per expert [E].
    public var load: [Double]
    /// Coefficient of variation of `load`.
    public var cv: Double
    /// Share of the total gate weight per expert [E] (empty when the caller did not keep it).
    public var loadGate: [Double] = []
    /// Most probable component per token [N] (IDA only).
    public var topComponent: [Int32]?
    /// Share of tokens whose most probable component is k [K] (IDA only).
    public var componentUsage: [Double]?
    /// Component priors pi [K] (IDA only).
    public var priors: [Double]?
    /// How the prior mass is shared (global for routers without a mixture).
    public var priorMass: PriorMass = .global
    /// Component means mu [K, P], row-major (IDA only).
    public var means: [Float]?
    /// Latent width P (0 for softmax routers).
    public var latentDim: Int

    /// A summary from its parts (for callers that already hold a routing, such as the inspector).
    public init(layer: Int, routerKind: RouterKind, experts: Int, componentsPerExpert: Int, topK: Int,
                selected: [Int32], entropyBits: [Float], load: [Double], cv: Double, topComponent: [Int32]?,
                componentUsage: [Double]?, priors: [Double]?, means: [Float]?, latentDim: Int) {
        self.layer = layer
        self.routerKind = routerKind
        self.experts = experts
        self.componentsPerExpert = componentsPerExpert
        self.topK = topK
        self.selected = selected
        self.entropyBits = entropyBits
        self.load = load
        self.cv = cv
        self.topComponent = topComponent
        self.componentUsage = componentUsage
        self.priors = priors
        self.means = means
        self.latentDim = latentDim
    }

    /// Tokens N.
    public var tokens: Int { entropyBits.count }
    /// Components K = E * M (0 for softmax routers).
    public var components: Int { experts * componentsPerExpert }

    /// The best expert of token n.
    @inlinable
    public func top1(_ n: Int) -> Int { Int(selected[n * topK]) }

    /// Routes every probe token through every MoE layer of `checkpoint` (or only `layer`), with an
    /// optional top-k override, on `workers` threads; memory stays linear in N (block by block).
    public static func build(checkpoint: RouterCheckpoint, probe: Probe, layer: Int? = nil, topK: Int? = nil,
                             workers: Int = 1, blockSize: Int = 2048) throws -> [LayerRoutingSummary] {
        let routing = try ProbeRouting(checkpoint: checkpoint, probe: probe, layer: layer, topK: topK,
                                       blockSize: blockSize)
        return try build(routing, workers: workers)
    }

    /// Routes with a prepared `ProbeRouting` and keeps the small per-token arrays of every layer.
    public static func build(_ routing: ProbeRouting, workers: Int = 1) throws -> [LayerRoutingSummary] {
        typealias Block = [(selected: [Int32], entropy: [Float], top: [Int32]?)]
        let n = routing.probe.count
        var selected = [[Int32]](repeating: [], count: routing.layers.count)
        var entropy = [[Float]](repeating: [], count: routing.layers.count)
        var top = [[Int32]](repeating: [], count: routing.layers.count)
        for slot in routing.layers.indices {
            selected[slot].reserveCapacity(n * routing.checkpoint.info.config.topK)
            entropy[slot].reserveCapacity(n)
        }
        let metrics = try routing.run(workers: workers, detail: .decisions, transform: { _, results -> Block in
            // Keep only what the comparison needs; the posteriors of the block are dropped here.
            results.map { ($0.selected, $0.entropyBits.map(Float.init), $0.topComponent) }
        }, consume: { block in
            for (slot, part) in block.enumerated() {
                selected[slot] += part.selected
                entropy[slot] += part.entropy
                if let t = part.top { top[slot] += t }
            }
        })
        var summaries: [LayerRoutingSummary] = []
        for (slot, i) in routing.layers.enumerated() {
            // The routers ProbeRouting actually used, so a top-k override is reflected in k.
            guard let router = routing.routers[i], let m = metrics[i] else {
                throw RoutingError.unknownLayer(layer: i, available: routing.checkpoint.info.moeLayers)
            }
            let k = router.topK
            var summary = LayerRoutingSummary(
                layer: i, routerKind: router.kind, experts: router.experts, componentsPerExpert: 0, topK: k,
                selected: selected[slot], entropyBits: entropy[slot], load: m.load, cv: m.cv, topComponent: nil,
                componentUsage: nil, priors: nil, means: nil, latentDim: 0)
            summary.loadGate = m.loadGate
            if case let .ida(r) = router {
                summary.routerKind = .ida
                summary.componentsPerExpert = r.config.componentsPerExpert
                summary.topComponent = top[slot]
                summary.componentUsage = m.componentUsage
                summary.priors = r.gmm.priors
                summary.priorMass = r.config.priorMass
                summary.means = r.gmm.means.data
                summary.latentDim = r.config.latentDim
            }
            summaries.append(summary)
        }
        return summaries
    }
}
