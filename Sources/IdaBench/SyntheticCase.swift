import Foundation
import IdaFormats
import IdaNumerics
import IdaRouting

/// A synthetic IDA checkpoint and probe of any size (`idamoe bench synth`): the scale tests' fixture
/// and the large benchmark cases. Probe text and hidden states as in `bench render` (tokens cluster
/// by domain and byte); each layer's mixture is placed on its own latents, then given uneven priors
/// with about one component in twelve dead and one expert in sixteen starved (all its priors tiny),
/// so load, dead components and alerts all have something to show.
public struct SyntheticCase {
    /// MoE layers (blocks 0..<layers).
    public var layers = 48
    /// Experts E per layer.
    public var experts = 128
    /// Experts of each layer when they differ (one count per layer; empty: `experts` everywhere).
    public var layerExperts: [Int] = []
    /// Components per expert M.
    public var componentsPerExpert = 4
    /// Hidden width D.
    public var width = 16
    /// Encoder hidden widths between D and P.
    public var encoderHidden: [Int] = [16]
    /// Latent width P.
    public var latent = 4
    /// Experts per token k.
    public var topK = 2
    /// Probe tokens N.
    public var tokens = 256
    /// Element type of the probe's hidden states.
    public var dtype: DType = .f16
    /// Seed of every random draw (same seed, same files).
    public var seed: UInt64 = 1

    /// A case of these sizes (the defaults are `bench scale`'s 48 x 128 case).
    public init(layers: Int = 48, experts: Int = 128, layerExperts: [Int] = [], componentsPerExpert: Int = 4, width: Int = 16,
                encoderHidden: [Int] = [16], latent: Int = 4, topK: Int = 2, tokens: Int = 256, dtype: DType = .f16,
                seed: UInt64 = 1) {
        self.layers = layers
        self.experts = experts
        self.layerExperts = layerExperts
        self.componentsPerExpert = componentsPerExpert
        self.width = width
        self.encoderHidden = encoderHidden
        self.latent = latent
        self.topK = topK
        self.tokens = tokens
        self.dtype = dtype
        self.seed = seed
    }

    /// Domain names of the probe.
    public static let domainNames = BenchRenderFixture.domainNames

    /// Writes `checkpoint.safetensors` and `probe.safetensors` into `directory` (created if missing);
    /// returns their paths.
    public func write(in directory: String) throws -> (checkpoint: String, probe: String) {
        let folder = try NewDirectory.prepare(directory)
        let config = RouterConfig(experts: experts, componentsPerExpert: componentsPerExpert, latentDim: latent, topK: topK)
        let counts = layerExperts.count == layers ? layerExperts : [Int](repeating: experts, count: layers)
        let text = BenchRenderFixture.ProbeText(tokens: tokens, domains: Self.domainNames.count, seed: seed)
        var rng = SeededGenerator(seed: seed &+ 100)
        var streamed: [Int: ProbeContents.StreamedRows] = [:]
        var routers: [Int: LayerRouter] = [:]
        for i in 0..<layers {
            // The router is placed on the layer's first rows; the probe's rows are produced again
            // block by block while the file is written, so memory does not grow with N.
            var first = text.hiddenRows(layer: i, width: width, seed: seed)
            let h = Matrix(rows: min(tokens, 4096), cols: width, data: first.next(4096) ?? [])
            var layerConfig = config
            layerConfig.experts = counts[i]
            var r = try IDARouter(config: layerConfig, hiddenDim: width, hidden: encoderHidden, rng: &rng)
            r.initializeMixture(from: h, rng: &rng)
            for k in 0..<r.gmm.components {
                let starved = (k / componentsPerExpert) % 16 == (i % 16)
                r.gmm.logits[k] = starved ? -12 : rng.unitDouble() < 1.0 / 12 ? -9 : rng.normal() * 0.8
            }
            routers[i] = .ida(r)
            var rows = text.hiddenRows(layer: i, width: width, seed: seed)
            streamed[i] = ProbeContents.StreamedRows(width: width) { rows.next(4096) }
        }
        let checkpoint = folder.appending("checkpoint.safetensors").string, probe = folder.appending("probe.safetensors").string
        let info = CheckpointInfo(router: .ida, moeLayers: Array(0..<layers), config: config, step: nil,
                                  layerExperts: Dictionary(uniqueKeysWithValues: counts.enumerated().map { ($0.offset, $0.element) }))
        try RouterCheckpoint(info: info, routers: routers).write(to: checkpoint, extraMetadata: ["idamoe.vocab": "bytes"])
        var contents = ProbeContents(tokens: text.tokens, domains: text.domains, documents: text.documents,
                                     domainNames: Self.domainNames)
        contents.streamedHidden = streamed
        contents.hiddenType = dtype
        try contents.write(to: probe)
        return (checkpoint, probe)
    }
}
