import ArgumentParser
import Foundation
import IdaFormats
import IdaNumerics
import IdaRouting

/// A synthetic IDA checkpoint and probe of any size (`idamoe bench synth`): the scale tests' fixture
/// and the large benchmark cases. Probe text and hidden states as in `bench render` (tokens cluster
/// by domain and byte); each layer's mixture is placed on its own latents, then given uneven priors
/// with about one component in twelve dead and one expert in sixteen starved (all its priors tiny),
/// so load, dead components and alerts all have something to show.
struct SyntheticCase {
    /// MoE layers (blocks 0..<layers).
    var layers = 48
    /// Experts E per layer.
    var experts = 128
    /// Experts of each layer when they differ (one count per layer; empty: `experts` everywhere).
    var layerExperts: [Int] = []
    /// Components per expert M.
    var componentsPerExpert = 4
    /// Hidden width D.
    var width = 16
    /// Encoder hidden widths between D and P.
    var encoderHidden: [Int] = [16]
    /// Latent width P.
    var latent = 4
    /// Experts per token k.
    var topK = 2
    /// Probe tokens N.
    var tokens = 256
    /// Element type of the probe's hidden states.
    var dtype: DType = .f16
    /// Seed of every random draw (same seed, same files).
    var seed: UInt64 = 1

    /// Domain names of the probe.
    static let domainNames = BenchRenderFixture.domainNames

    /// Refuses sizes the readers refuse (`SizeLimits`, the checkpoint contract's ranges), before
    /// anything is allocated; the messages name the flags.
    func checkSizes() throws {
        func bounded(_ value: Int, _ low: Int, _ high: Int, _ flag: String) throws {
            guard value >= low && value <= high else { throw ValidationError("\(flag) must be \(low)...\(high), got \(value)") }
        }
        try bounded(layers, 1, SizeLimits.blocks, "--layers")
        try bounded(experts, 1, SizeLimits.experts, "--experts")
        for count in layerExperts { try bounded(count, 1, SizeLimits.experts, "--layer-experts") }
        try bounded(componentsPerExpert, 1, SizeLimits.componentsPerExpert, "--components")
        let largest = max(experts, layerExperts.max() ?? 0)
        guard (SizeLimits.product(largest, componentsPerExpert) ?? .max) <= SizeLimits.components else {
            throw ValidationError("--experts x --components must be at most \(SizeLimits.components) components per layer")
        }
        try bounded(width, 1, SizeLimits.width, "--width")
        try bounded(latent, 1, SizeLimits.latentDim, "--latent")
        guard encoderHidden.count <= SizeLimits.encoderLayers else {
            throw ValidationError("--encoder may list at most \(SizeLimits.encoderLayers) widths")
        }
        for w in encoderHidden { try bounded(w, 1, SizeLimits.width, "--encoder") }
        try bounded(topK, 1, min(SizeLimits.topK, layerExperts.min() ?? experts), "--top-k")
        try bounded(tokens, 1, SizeLimits.tokens, "--tokens")
        // The probe's tokens, domains and documents are held in memory while the file is written.
        do {
            try ModelConfig.checkFits(SizeLimits.product(tokens, 16), what: "a probe", key: "tokens", hint: "lower --tokens")
        } catch let SettingError.invalidSetting(_, problem) {
            throw ValidationError("--tokens \(tokens) " + problem)
        }
    }

    /// Bytes the two files take, about (the probe's hidden states dominate); nil when beyond an `Int`.
    var fileBytes: Int? {
        let perLayerRouter = SizeLimits.product([max(experts, layerExperts.max() ?? 0), componentsPerExpert, 2 * latent + 1, 8])
        return SizeLimits.sum([
            SizeLimits.product([tokens, width, layers, dtype.byteSize]),
            SizeLimits.product(tokens, 12),
            perLayerRouter.flatMap { SizeLimits.product(layers, $0) },
        ])
    }

    /// Refuses to start when the files would not fit the free space of the file system holding
    /// `directory` (or its nearest existing parent).
    func checkRoom(in directory: String) throws {
        var probe = directory.isEmpty ? "." : directory
        var info = statvfs()
        while statvfs(probe, &info) != 0 {
            let parent = (probe as NSString).deletingLastPathComponent
            guard !parent.isEmpty, parent != probe else { return }
            probe = parent
        }
        guard info.f_blocks > 0 else { return }  // a pseudo file system (/proc) reports no size: creating fails instead
        let free = SizeLimits.product(Int(info.f_bavail), Int(info.f_frsize)) ?? .max
        guard let needed = fileBytes, needed <= free else {
            let size = fileBytes.map { SizeLimits.describe(bytes: $0) } ?? "more than 8 EiB"
            throw ValidationError("the checkpoint and probe would take about \(size), more than the \(SizeLimits.describe(bytes: free)) "
                                  + "free where \(UntrustedText.shown(directory)) is; lower --tokens, --width or --layers")
        }
    }

    /// Writes `checkpoint.safetensors` and `probe.safetensors` into `directory` (created if missing);
    /// returns their paths.
    func write(in directory: String) throws -> (checkpoint: String, probe: String) {
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
