import Foundation
import IdaNumerics
import IdaRouting

/// One MoE layer of a snapshot, with every probe token routed.
public struct LayerAnalysis: Sendable {
    /// Block index.
    public var layer: Int
    /// Experts E.
    public var experts: Int
    /// Components per expert M (0 for softmax routers).
    public var componentsPerExpert: Int
    /// Experts chosen per token [N, k], best first.
    public var selected: [Int32]
    /// Gate weights [N, k].
    public var weights: [Float]
    /// Experts per token k.
    public var topK: Int
    /// Expert distribution q [N, E] (Float to keep large probes small).
    public var expertProbabilities: [Float]
    /// Component posteriors [N, K] (IDA) or expert probabilities (softmax).
    public var posterior: [Float]
    /// Width of a posterior row.
    public var posteriorWidth: Int
    /// Routing entropy per token (bits).
    public var entropy: [Float]
    /// log p(z) per token (IDA).
    public var logDensity: [Double]?
    /// Reconstruction error per token (IDA).
    public var reconstruction: [Float]?
    /// Most probable component per token (IDA).
    public var topComponent: [Int32]?
    /// Latent 2-D coordinates per token [N][2] (IDA).
    public var points: [(Double, Double)]
    /// The projection used for `points`.
    public var projection: Projection?
    /// Component priors [K] (IDA).
    public var priors: [Double]
    /// Component means projected to 2-D [K] (IDA).
    public var means: [(Double, Double)]
    /// One-sigma radii of each component along the two axes [K] (IDA).
    public var sigmas: [(Double, Double)]
    /// Metrics over the probe.
    public var metrics: LayerMetrics
}

/// A snapshot's routers applied to a probe: what every screen of the inspector draws from.
public struct SnapshotAnalysis: Sendable {
    /// Training step of the snapshot (nil when unknown).
    public var step: Int?
    /// Router kind.
    public var router: RouterKind
    /// Per MoE block.
    public var layers: [Int: LayerAnalysis]
    /// MoE block indices in order.
    public var layerOrder: [Int]

    /// Probe tokens N the analysis routed.
    var tokenCount: Int { layers.values.first?.entropy.count ?? 0 }

    /// An analysis from its parts (tests build large ones from literal numbers this way).
    init(step: Int?, router: RouterKind, layers: [Int: LayerAnalysis], layerOrder: [Int]) {
        self.step = step
        self.router = router
        self.layers = layers
        self.layerOrder = layerOrder
    }

    /// Routes every probe token through every MoE layer of `checkpoint`; `previous` keeps the latent
    /// axes stable from one snapshot to the next. `workers` threads route tiles at once (the result does
    /// not depend on how many; see `ProbeRouting`).
    public init(checkpoint: RouterCheckpoint, probe: Probe, previous: SnapshotAnalysis? = nil, workers: Int = 1) throws {
        let routing = try ProbeRouting(checkpoint: checkpoint, probe: probe, blockSize: 4096)
        // Each tile is converted to the analysis' Float arrays as it arrives (capacity reserved for
        // the whole probe), so the double-precision posteriors of one block at a time are alive.
        var parts: [Int: LayerParts] = [:]
        let metrics = try routing.run(workers: workers, keepLatents: true, reconstruct: true,
                                      transform: { _, results in results }, consume: { results in
            for (slot, i) in routing.layers.enumerated() {
                parts[i, default: LayerParts(reserving: probe.count, like: results[slot])].append(results[slot])
            }
        })
        self.init(checkpoint: checkpoint, layerOrder: routing.layers, parts: parts, metrics: metrics, previous: previous)
    }

    /// An analysis of routings computed elsewhere: `results[i]` is every probe token routed through MoE
    /// layer i of `checkpoint` (with latents and reconstruction errors for IDA layers). Tests draw their
    /// golden screens from recorded results this way, so no screen depends on the BLAS kernel.
    public init(checkpoint: RouterCheckpoint, results: [Int: RoutingResult], previous: SnapshotAnalysis? = nil) {
        let order = checkpoint.info.moeLayers.filter { results[$0] != nil && checkpoint.routers[$0] != nil }
        var parts: [Int: LayerParts] = [:]
        var metrics: [Int: LayerMetrics] = [:]
        for i in order {
            guard let result = results[i], let router = checkpoint.routers[i] else { continue }
            var part = LayerParts(reserving: result.tokens, like: result)
            part.append(result)
            parts[i] = part
            var accumulator = LayerMetricsAccumulator(experts: router.experts, components: router.components)
            accumulator.add(result)
            metrics[i] = accumulator.finish(priors: router.priors)
        }
        self.init(checkpoint: checkpoint, layerOrder: order, parts: parts, metrics: metrics, previous: previous)
    }

    /// Assembles the per-layer analyses (projection, points, ellipses) from routed parts.
    init(checkpoint: RouterCheckpoint, layerOrder: [Int], parts: [Int: LayerParts], metrics: [Int: LayerMetrics],
         previous: SnapshotAnalysis?) {
        var parts = parts
        var layers: [Int: LayerAnalysis] = [:]
        for i in layerOrder {
            guard let router = checkpoint.routers[i], let part = parts.removeValue(forKey: i), let metric = metrics[i] else { continue }
            var a = LayerAnalysis(layer: i, experts: router.experts, componentsPerExpert: 0, selected: part.selected,
                                  weights: part.weights, topK: part.topK ?? checkpoint.info.config.topK,
                                  expertProbabilities: part.expertProbabilities, posterior: part.posterior,
                                  posteriorWidth: part.posteriorWidth, entropy: part.entropy,
                                  logDensity: part.logDensity, reconstruction: part.reconstruction,
                                  topComponent: part.topComponent, points: [], projection: nil,
                                  priors: [], means: [], sigmas: [], metrics: metric)
            let latents: [Float]? = part.latents
            if case let .ida(r) = router, let z = latents {
                let p = r.config.latentDim
                let projection = Projection(latents: z, dimension: p, previous: previous?.layers[i]?.projection)
                a.componentsPerExpert = r.config.componentsPerExpert
                a.projection = projection
                a.points = stride(from: 0, to: z.count, by: p).map { projection.project(z[$0..<($0 + p)]) }
                a.priors = r.gmm.priors
                for k in 0..<r.gmm.components {
                    a.means.append(projection.project(r.gmm.means.data[(k * p)..<((k + 1) * p)]))
                    let variance = (0..<p).map { Foundation.exp(r.gmm.clampedLogVar(r.gmm.logVars[k, $0])) }
                    a.sigmas.append(projection.sigma(variance: variance))
                }
            }
            layers[i] = a
        }
        self.step = checkpoint.info.step
        self.router = checkpoint.info.router
        self.layers = layers
        self.layerOrder = layerOrder
    }
}

/// One layer's routing of the probe, gathered block by block in the analysis' precision.
struct LayerParts {
    var topK: Int?
    var posteriorWidth = 0
    var selected: [Int32] = []
    var weights: [Float] = []
    var expertProbabilities: [Float] = []
    var posterior: [Float] = []
    var entropy: [Float] = []
    var logDensity: [Double]?
    var reconstruction: [Float]?
    var topComponent: [Int32]?
    var latents: [Float]?

    /// Empty arrays with room for `n` tokens shaped like `first`.
    init(reserving n: Int, like first: RoutingResult) {
        topK = first.topK
        posteriorWidth = first.posteriorWidth
        selected.reserveCapacity(n * first.topK)
        weights.reserveCapacity(n * first.topK)
        expertProbabilities.reserveCapacity(n * first.experts)
        posterior.reserveCapacity(n * first.posteriorWidth)
        entropy.reserveCapacity(n)
    }

    /// Appends one block's results, converting doubles to Float.
    mutating func append(_ b: RoutingResult) {
        selected += b.selected
        weights += b.weights
        for v in b.expertProbabilities { expertProbabilities.append(Float(v)) }
        for v in b.posterior { posterior.append(Float(v)) }
        for v in b.entropyBits { entropy.append(Float(v)) }
        // Optional parts grow in place (`?.append`), not by building a new array per block.
        if let d = b.logDensity { logDensity = logDensity ?? []; logDensity?.append(contentsOf: d) }
        if let r = b.reconstructionError { reconstruction = reconstruction ?? []; reconstruction?.append(contentsOf: r) }
        if let t = b.topComponent { topComponent = topComponent ?? []; topComponent?.append(contentsOf: t) }
        if let z = b.latents { latents = latents ?? []; latents?.append(contentsOf: z.data) }
    }
}
