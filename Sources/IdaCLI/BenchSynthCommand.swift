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
        do {
            try synthetic.checkSizes()
            // The probe's tokens, domains and documents are held in memory while the file is written.
            do {
                try ModelConfig.checkFits(synthetic.probeMemoryBytes, what: "a probe", key: "tokens", hint: "lower --tokens")
            } catch let SettingError.invalidSetting(_, problem) {
                throw ValidationError("--tokens \(tokens) " + problem)
            }
            try synthetic.checkRoom(in: directory)
        } catch let refusal as SyntheticCase.Refusal {
            throw Self.error(refusal)
        }
        let t0 = monotonicSeconds()
        let paths = try synthetic.write(in: directory)
        try StandardOutput.line("wrote \(paths.checkpoint) and \(paths.probe): \(layers) layers x \(experts) experts x \(components) components, "
              + "D \(width), P \(latent), N \(tokens) \(type.rawValue) (\(String(format: "%.1f", monotonicSeconds() - t0)) s)")
    }
}

extension BenchSynthCommand {
    /// A refused case as a one-line error naming the flags.
    static func error(_ refusal: SyntheticCase.Refusal) -> ValidationError {
        switch refusal {
        case let .outOfRange(size, value, low, high):
            return ValidationError("\(flag(size)) must be \(low)...\(high), got \(value)")
        case let .tooManyComponents(limit):
            return ValidationError("--experts x --components must be at most \(limit) components per layer")
        case let .tooManyEncoderLayers(limit):
            return ValidationError("--encoder may list at most \(limit) widths")
        case let .noRoom(needed, free, directory):
            let size = needed.map { SizeLimits.describe(bytes: $0) } ?? "more than 8 EiB"
            return ValidationError("the checkpoint and probe would take about \(size), more than the \(SizeLimits.describe(bytes: free)) "
                                   + "free where \(UntrustedText.shown(directory)) is; lower --tokens, --width or --layers")
        }
    }

    /// The flag that sets `size`.
    static func flag(_ size: SyntheticCase.Size) -> String {
        switch size {
        case .layers: "--layers"
        case .experts: "--experts"
        case .layerExperts: "--layer-experts"
        case .componentsPerExpert: "--components"
        case .width: "--width"
        case .latent: "--latent"
        case .encoderHidden: "--encoder"
        case .topK: "--top-k"
        case .tokens: "--tokens"
        }
    }
}
