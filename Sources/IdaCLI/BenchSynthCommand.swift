import ArgumentParser
import Foundation
import IdaBLAS
import IdaBench
import IdaFormats
import IdaNumerics
import IdaRouting
import IdaSystem

/// `idamoe bench synth`: writes a synthetic checkpoint and probe of any size.
struct BenchSynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a synthetic IDA checkpoint and probe of any size (DIR/checkpoint.safetensors, DIR/probe.safetensors).")

    @Argument(help: "Directory to write into (created if missing).")
    var directory: String

    @Option(help: "MoE layers (blocks 0..<layers).")
    var layers = 48

    @Option(help: "Experts E per layer.")
    var experts = 128

    @Option(name: .customLong("layer-experts"), help: "Experts of each layer when they differ, comma-separated, one per layer (e.g. 64,128,128).")
    var layerExperts = ""

    @Option(help: "Components per expert M.")
    var components = 4

    @Option(help: "Hidden width D of the probe.")
    var width = 16

    @Option(help: "Encoder hidden widths between D and P, comma-separated (empty: none).")
    var encoder = "16"

    @Option(help: "Latent width P.")
    var latent = 4

    @Option(name: .customLong("top-k"), help: "Experts per token k.")
    var topK = 2

    @Option(help: "Probe tokens N.")
    var tokens = 256

    @Option(help: "Element type of the probe's hidden states: F32, F16 or BF16.")
    var dtype = "F16"

    @Option(help: "Seed (same seed, same files).")
    var seed: UInt64 = 1

    func run() throws {
        guard let type = DType(rawValue: dtype.uppercased()), [.f32, .f16, .bf16].contains(type) else {
            throw ValidationError("--dtype must be F32, F16 or BF16, not \(dtype)")
        }
        let hidden = encoder.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard encoder.isEmpty || hidden.allSatisfy({ ($0 ?? 0) > 0 }) else { throw ValidationError("--encoder needs positive widths, e.g. 128 or 256,128") }
        let perLayer = layerExperts.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) ?? 0 }
        guard perLayer.isEmpty || (perLayer.count == layers && perLayer.allSatisfy { $0 >= topK }) else {
            throw ValidationError("--layer-experts needs \(layers) counts (one per layer), each at least --top-k")
        }
        let synthetic = SyntheticCase(layers: layers, experts: experts, layerExperts: perLayer, componentsPerExpert: components, width: width,
                                      encoderHidden: encoder.isEmpty ? [] : hidden.compactMap { $0 }, latent: latent, topK: topK, tokens: tokens,
                                      dtype: type, seed: seed)
        try synthetic.checkSizes()
        try synthetic.checkRoom(in: directory)
        let t0 = monotonicSeconds()
        let paths = try synthetic.write(in: directory)
        try StandardOutput.line("wrote \(paths.checkpoint) and \(paths.probe): \(layers) layers x \(experts) experts x \(components) components, "
              + "D \(width), P \(latent), N \(tokens) \(type.rawValue) (\(String(format: "%.1f", monotonicSeconds() - t0)) s)")
    }
}

/// The flag checks of `bench synth` (flag names live in the CLI).
extension SyntheticCase {
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

}
