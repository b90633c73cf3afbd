import IdaNumerics
import Foundation
import IdaRouting

/// Two checkpoints routing the same probe tokens, compared layer by layer (`idamoe diff`).
public struct CheckpointComparison: Sendable {
    /// What one side is: where it came from, its router and the probe it routed.
    public struct Side: Sendable, Equatable {
        /// How the side was named and where it resolved to.
        public var reference: CheckpointReference
        /// Training step (the checkpoint's `idamoe.step`, else the snapshot file name's).
        public var step: Int?
        /// Router kind.
        public var router: RouterKind
        /// Experts E (`idamoe.experts`; layers listed in `idamoe.layer_experts` may differ).
        public var experts: Int
        /// Experts of each MoE layer, in `moeLayers` order.
        public var layerExperts: [Int]
        /// Components per expert M (0 for softmax routers).
        public var componentsPerExpert: Int
        /// Latent width P (0 for softmax routers).
        public var latentDim: Int
        /// Experts per token k as routed (after any override).
        public var topK: Int
        /// MoE block indices of the checkpoint.
        public var moeLayers: [Int]
        /// The probe file streamed through this side.
        public var probe: String
        /// When the side is a capture of a Hugging Face model: what it is a capture of, and whether it
        /// was checked (run.json's `capture`).
        public var capture: CaptureInfo?
        /// When the side is an import of another program's recorded decisions (run.json's `imported`).
        public var imported: ImportInfo?

        /// A side from a loaded checkpoint.
        public init(reference: CheckpointReference, checkpoint: RouterCheckpoint, topK: Int?, probe: String) {
            let info = checkpoint.info
            self.reference = reference
            self.step = info.step ?? reference.step
            self.router = info.router
            self.experts = info.config.experts
            self.componentsPerExpert = info.router == .ida ? info.config.componentsPerExpert : 0
            self.latentDim = info.router == .ida ? info.config.latentDim : 0
            self.topK = topK ?? info.config.topK
            self.moeLayers = info.moeLayers
            self.layerExperts = info.moeLayers.map { info.config(layer: $0).experts }
            self.probe = probe
            let run = reference.runDirectory.flatMap { RunDescription.read(directory: $0) }
            self.capture = run?.capture
            self.imported = run?.imported
        }
    }

    /// Side A.
    public var a: Side
    /// Side B.
    public var b: Side
    /// One probe file streamed through both (true), or each side's own probe with the same tokens.
    public var sharedProbe: Bool
    /// What is compared: the same tokens through each model, or one probe's hidden states through both routers.
    public var basis: ComparisonBasis
    /// Probe tokens N.
    public var tokens: Int
    /// Domain names of the probe, indexed by id (empty when it names none).
    public var domainNames: [String]
    /// Whether A and B are snapshots of the same run directory.
    public var sameRun: Bool
    /// Threshold of the dead-component rule (usage and prior below tau / K).
    public var tau: Double
    /// One comparison per compared MoE layer, ascending.
    public var layers: [LayerComparison]

    /// Loads both checkpoints, picks the probes (`probe` for both, else each side's snapshot probe, which
    /// must hold the same tokens), routes every compared layer on `workers` threads and compares.
    public init(a refA: CheckpointReference, b refB: CheckpointReference, probe probePath: String? = nil,
                layer: Int? = nil, topK: Int? = nil, workers: Int = 1, tau: Double = ReactivationConfig.defaultTau) throws {
        let probes = try ComparisonProbes.resolve(override: probePath, checkpointA: refA.path,
                                                  probeA: refA.snapshotProbe, probeB: refB.snapshotProbe)
        try self.init(a: refA, b: refB, probes: probes, layer: layer, topK: topK, workers: workers, tau: tau)
    }

    /// Loads both checkpoints and compares them on `probes` (for example two probes of one text made by
    /// each side's own model), routing every compared layer on `workers` threads.
    public init(a refA: CheckpointReference, b refB: CheckpointReference, probes: ComparisonProbes,
                layer: Int? = nil, topK: Int? = nil, workers: Int = 1, tau: Double = ReactivationConfig.defaultTau) throws {
        let ckA = try RouterCheckpoint(path: refA.path)
        let ckB = try RouterCheckpoint(path: refB.path)
        let probeA = probes.a, probeB = probes.b
        let sameRun = refA.runDirectory != nil && refA.runDirectory == refB.runDirectory
        self.a = Side(reference: refA, checkpoint: ckA, topK: topK, probe: probeA.file.path)
        self.b = Side(reference: refB, checkpoint: ckB, topK: topK, probe: probeB.file.path)
        self.sharedProbe = probes.shared
        self.basis = probes.basis
        self.tokens = probeA.count
        self.domainNames = probeA.domainNames
        self.sameRun = sameRun
        self.tau = tau
        let options = ComparisonOptions(sameRun: sameRun, tau: tau, domains: probeA.domainIDs(), domainNames: probeA.domainNames)
        self.layers = try Self.compare(ckA, probeA, ckB, probeB, options: options, layer: layer, topK: topK,
                                       workers: workers, sides: ("A (\(refA.path))", "B (\(refB.path))"))
    }

    /// Compares two loaded checkpoints on their probes (which must hold the same tokens in the same
    /// order), over the MoE layers both have, or only `layer`. A routing error of one side is reported
    /// with that side's name from `sides`.
    public static func compare(_ ckA: RouterCheckpoint, _ probeA: Probe, _ ckB: RouterCheckpoint, _ probeB: Probe,
                               options: ComparisonOptions, layer: Int? = nil, topK: Int? = nil, workers: Int = 1,
                               sides: (a: String, b: String) = ("A", "B")) throws -> [LayerComparison] {
        let layersA = ckA.info.moeLayers, layersB = ckB.info.moeLayers
        let common = layersA.filter { layersB.contains($0) }
        let chosen: [Int]
        if let layer {
            guard common.contains(layer) else { throw ComparisonError.unknownLayer(layer: layer, layersA: layersA, layersB: layersB) }
            chosen = [layer]
        } else {
            guard !common.isEmpty else { throw ComparisonError.noCommonLayer(layersA: layersA, layersB: layersB) }
            chosen = common
        }
        func routed(_ ck: RouterCheckpoint, _ probe: Probe, _ side: String) throws -> [LayerRoutingSummary] {
            do {
                return try summaries(ck, probe, chosen, topK: topK, workers: workers)
            } catch let error as RoutingError {
                throw ComparisonError.routing(side: side, problem: error.description)
            }
        }
        let summariesA = try routed(ckA, probeA, sides.a)
        let summariesB = try routed(ckB, probeB, sides.b)
        return try zip(summariesA, summariesB).map { try LayerComparison($0, $1, options: options) }
    }

    /// Summaries of `layers` (one pass when they are all of the checkpoint's MoE layers).
    static func summaries(_ ck: RouterCheckpoint, _ probe: Probe, _ layers: [Int], topK: Int?,
                          workers: Int) throws -> [LayerRoutingSummary] {
        if layers == ck.info.moeLayers {
            return try LayerRoutingSummary.build(checkpoint: ck, probe: probe, topK: topK, workers: workers)
        }
        return try layers.flatMap { i in
            try LayerRoutingSummary.build(checkpoint: ck, probe: probe, layer: i, topK: topK, workers: workers)
        }
    }
}
