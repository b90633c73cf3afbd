import Foundation
import IdaNumerics
import IdaRouting

/// One MoE layer of a snapshot, with every probe token routed.
public struct LayerAnalysis: Sendable {
    /// Components per token whose posteriors are kept (the tokens screen lists them).
    public static let keptComponents = 3
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
    /// The `keptComponents` most probable components per token [N, 3], best first (IDA; empty for softmax).
    public var topComponents: [Int32]
    /// Their posteriors [N, 3] (the full N x K posteriors are not kept: see docs/decisions.md).
    public var topPosteriors: [Float]
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
    /// How the prior mass is shared (IDA; global otherwise), for the one definition of dead.
    public var priorMass: PriorMass = .global
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
    /// The probe's own text when each snapshot holds different tokens (a run without a run-level probe,
    /// such as an import of recorded decisions): the tokens screen shows it with this snapshot.
    public var ownText: ProbeText?

    /// Probe tokens N the analysis routed.
    var tokenCount: Int { layers.values.first?.entropy.count ?? 0 }

    /// An analysis from its parts (tests build large ones from literal numbers this way).
    init(step: Int?, router: RouterKind, layers: [Int: LayerAnalysis], layerOrder: [Int]) {
        self.step = step
        self.router = router
        self.layers = layers
        self.layerOrder = layerOrder
    }

    /// Whether every MoE layer has been analysed (while not, the missing ones are being routed).
    public var isComplete: Bool { layers.count >= layerOrder.count }

    /// Routes every probe token through every MoE layer of `checkpoint`, one layer at a time, block
    /// `first` first; after each layer but the last, `progress` sees the analysis so far (the inspector
    /// shows it while the rest are routed). `previous` keeps the latent axes stable from one snapshot
    /// to the next. `workers` threads route tiles at once (the result depends neither on how many nor
    /// on the order of the layers; see `ProbeRouting`).
    /// Before each layer `prefer` may name the block wanted now (the one on screen after a key), which
    /// then goes next if it is still to do.
    /// `until` may end the analysis early, once it has what its caller needs (the result is then not complete).
    public init(checkpoint: RouterCheckpoint, probe: Probe, previous: SnapshotAnalysis? = nil, workers: Int = 1,
                first: Int? = nil, prefer: (() -> Int?)? = nil, until: ((SnapshotAnalysis) -> Bool)? = nil,
                progress: ((SnapshotAnalysis) -> Void)? = nil) throws {
        let order = try ProbeRouting(checkpoint: checkpoint, probe: probe).layers  // checks every layer up front
        var queue = order
        if let first, let i = queue.firstIndex(of: first) { queue.insert(queue.remove(at: i), at: 0) }
        self.init(step: checkpoint.info.step, router: checkpoint.info.router, layers: [:], layerOrder: order)
        while !queue.isEmpty {
            let wanted = prefer?().flatMap { queue.firstIndex(of: $0) } ?? 0
            let i = queue.remove(at: wanted)
            guard let router = checkpoint.routers[i] else { continue }
            // Blocks of four tiles so that every worker has some; each tile is converted to the
            // analysis' compact arrays as it arrives. The router ranks each token's components
            // itself, so no N x K posteriors are made.
            let routing = try ProbeRouting(checkpoint: checkpoint, probe: probe, layer: i, blockSize: 4 * ProbeRouting.tileRows)
            var part: LayerParts?
            let metrics = try routing.run(workers: workers, keepLatents: true, reconstruct: true,
                                          detail: .ranked(components: LayerAnalysis.keptComponents),
                                          transform: { _, results in results[0] }, consume: { result in
                if part == nil { part = LayerParts(reserving: probe.count, like: result) }
                part?.append(result)
            })
            guard let part, let metric = metrics[i] else { continue }
            layers[i] = Self.layer(i, router: router, part: part, metric: metric, topK: checkpoint.info.config.topK,
                                   previous: previous?.layers[i])
            guard !isComplete else { break }
            if until?(self) == true { break }
            progress?(self)
        }
    }

    /// An analysis of routings computed elsewhere: `results[i]` is every probe token routed through MoE
    /// layer i of `checkpoint` (with latents and reconstruction errors for IDA layers). Tests draw their
    /// golden screens from recorded results this way, so no screen depends on the BLAS kernel.
    public init(checkpoint: RouterCheckpoint, results: [Int: RoutingResult], previous: SnapshotAnalysis? = nil) {
        let order = checkpoint.info.moeLayers.filter { results[$0] != nil && checkpoint.routers[$0] != nil }
        self.init(step: checkpoint.info.step, router: checkpoint.info.router, layers: [:], layerOrder: order)
        for i in order {
            guard let recorded = results[i], let router = checkpoint.routers[i] else { continue }
            let result = recorded.ranked > 0 ? recorded : recorded.rankingComponents(LayerAnalysis.keptComponents)
            var part = LayerParts(reserving: result.tokens, like: result)
            part.append(result)
            var accumulator = LayerMetricsAccumulator(experts: router.experts, components: router.components)
            accumulator.add(result)
            layers[i] = Self.layer(i, router: router, part: part, metric: accumulator.finish(priors: router.priors, priorMass: router.priorMass),
                                   topK: checkpoint.info.config.topK, previous: previous?.layers[i])
        }
    }

    /// One layer's analysis (projection, points, ellipses) from its routed parts.
    static func layer(_ i: Int, router: LayerRouter, part: LayerParts, metric: LayerMetrics, topK: Int,
                      previous: LayerAnalysis?) -> LayerAnalysis {
        var a = LayerAnalysis(layer: i, experts: router.experts, componentsPerExpert: 0, selected: part.selected,
                              weights: part.weights, topK: part.topK ?? topK,
                              expertProbabilities: part.expertProbabilities, topComponents: part.topComponents,
                              topPosteriors: part.topPosteriors, entropy: part.entropy,
                              logDensity: part.logDensity, reconstruction: part.reconstruction,
                              topComponent: part.topComponent, points: [], projection: nil,
                              priors: [], means: [], sigmas: [], metrics: metric)
        if case let .ida(r) = router, let z = part.latents {
            let p = r.config.latentDim
            let projection = Projection(latents: z, dimension: p, previous: previous?.projection)
            a.componentsPerExpert = r.config.componentsPerExpert
            a.projection = projection
            a.points = stride(from: 0, to: z.count, by: p).map { projection.project(z[$0..<($0 + p)]) }
            a.priors = r.gmm.priors
            a.priorMass = r.config.priorMass
            for k in 0..<r.gmm.components {
                a.means.append(projection.project(r.gmm.means.data[(k * p)..<((k + 1) * p)]))
                let variance = (0..<p).map { Foundation.exp(r.gmm.clampedLogVar(r.gmm.logVars[k, $0])) }
                a.sigmas.append(projection.sigma(variance: variance))
            }
        }
        return a
    }
}

/// One layer's routing of the probe, gathered block by block in the analysis' precision.
struct LayerParts {
    var topK: Int?
    var selected: [Int32] = []
    var weights: [Float] = []
    var expertProbabilities: [Float] = []
    var topComponents: [Int32] = []
    var topPosteriors: [Float] = []
    var entropy: [Float] = []
    var logDensity: [Double]?
    var reconstruction: [Float]?
    var topComponent: [Int32]?
    var latents: [Float]?

    /// Empty arrays with room for `n` tokens shaped like `first`.
    init(reserving n: Int, like first: RoutingResult) {
        topK = first.topK
        selected.reserveCapacity(n * first.topK)
        weights.reserveCapacity(n * first.topK)
        expertProbabilities.reserveCapacity(n * first.experts)
        if first.ranked > 0 {
            topComponents.reserveCapacity(n * LayerAnalysis.keptComponents)
            topPosteriors.reserveCapacity(n * LayerAnalysis.keptComponents)
        }
        entropy.reserveCapacity(n)
    }

    /// Appends one block's results, converting doubles to Float.
    mutating func append(_ b: RoutingResult) {
        selected += b.selected
        weights += b.weights
        for v in b.expertProbabilities { expertProbabilities.append(Float(v)) }
        topComponents += b.rankedComponents
        topPosteriors += b.rankedPosteriors
        for v in b.entropyBits { entropy.append(Float(v)) }
        // Optional parts grow in place (`?.append`), not by building a new array per block.
        if let d = b.logDensity { logDensity = logDensity ?? []; logDensity?.append(contentsOf: d) }
        if let r = b.reconstructionError { reconstruction = reconstruction ?? []; reconstruction?.append(contentsOf: r) }
        if let t = b.topComponent { topComponent = topComponent ?? []; topComponent?.append(contentsOf: t) }
        if let z = b.latents { latents = latents ?? []; latents?.append(contentsOf: z.data) }
    }
}
