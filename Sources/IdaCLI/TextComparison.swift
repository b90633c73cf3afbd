import Foundation
import IdaFormats
import IdaInspector
import IdaNumerics
import IdaAnalysis
import IdaRouting
import IdaTraining

/// `--text FILE` of `idamoe diff` and `idamoe inspect --compare`: the same text through each side's
/// own model (docs/format.md, "idamoe diff"). A snapshot of `idamoe train` holds the whole model, which
/// runs the text's bytes and writes its own router inputs; a side holding routers only (a PyTorch run,
/// a capture) is compared on its own probe when that probe holds exactly the text's bytes.
enum TextComparison {
    /// The largest text read, in bytes (each byte becomes a token whose router inputs every MoE layer
    /// of both models writes).
    static let limit = 256 << 10

    /// The bytes of `path` (one token each), refused when empty or over `limit`.
    static func read(_ path: String) throws -> [UInt8] {
        let bytes: [UInt8]
        do {
            bytes = try SmallFile.read(path, limit: limit)
        } catch {
            throw TextFailure(message: error.description + (error == .tooLarge(path: path, limit: limit) ? "; --text takes up to 256 KiB" : ""))
        }
        guard !bytes.isEmpty else { throw TextFailure(message: "\(UntrustedText.shown(path)): is empty; --text needs some text") }
        return bytes
    }

    /// Probes of `bytes` for both sides: each side's model runs the text, or a routers-only side's own
    /// probe when it holds exactly these tokens.
    static func probes(_ bytes: [UInt8], a: CheckpointReference, b: CheckpointReference,
                       prober: TextProber = makeTextProber()) throws -> ComparisonProbes {
        try ComparisonProbes(textA: probe(bytes, side: "A", ref: a, prober: prober),
                             textB: probe(bytes, side: "B", ref: b, prober: prober))
    }

    static func probe(_ bytes: [UInt8], side: String, ref: CheckpointReference, prober: TextProber) throws -> Probe {
        do {
            return try prober(bytes, ref.path)
        } catch TrainingError.routersOnly {
            let own = try ref.snapshotProbe.map { try Probe(path: $0) }
            guard let own, own.tokens.elementsEqual(bytes.lazy.map { Int32($0) }) else {
                throw ComparisonError.textNeedsModel(side: side, checkpoint: ref.path, probeTokens: own?.count, textTokens: bytes.count)
            }
            return own
        }
    }
}

/// A `--text` file that cannot be used (one line).
struct TextFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
