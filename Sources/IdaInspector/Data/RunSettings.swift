import Foundation
import IdaRouting
import IdaFormats
import IdaTerminal

/// The training settings that tell runs apart (router, reactivation, latent norm, aux loss, seed),
/// read from a run directory's run.json for the title line and the A | B labels.
public enum RunSettings {
    /// "reactivation reset from pool · latent rms · gate T 4 · seed 1" (IDA) or "aux 0.01 · seed 2" (softmax); nil when
    /// the directory has no readable run.json.
    public static func summary(runDirectory: String) -> String? {
        guard let bytes = try? SmallFile.read(RunLayout(runDirectory).manifest),
              let json = try? JSONValue.parse(bytes: bytes) else { return nil }
        return summary(json)
    }

    /// The summary of a parsed run.json (docs/format.md), escaped by `UntrustedText`; unknown or
    /// missing fields are left out.
    public static func summary(_ json: JSONValue) -> String? {
        let model = json["model"], training = json["training"]
        var parts: [String] = []
        if model?["router"]?.string == "ida" {
            if let mode = training?["reactivation"]?.string {
                let pooled = training?["reseed"]?.string == "pool"
                parts.append("reactivation \(mode)" + (pooled ? " from pool" : ""))
            }
            parts.append("latent " + (model?["latentNorm"]?.string ?? "none"))
            if let t = model?["gateTemperature"]?.double, t != 1 {
                parts.append("gate T " + (t == t.rounded() && abs(t) < 1e6 ? String(Int(t)) : NumberText.compact(t)))
            }
            if training?["nllToEncoder"]?.bool == true { parts.append("nll to encoder") }
        } else if model?["router"]?.string == "softmax" {
            let aux = training?["auxLoss"]?.double ?? 0
            parts.append(aux == 0 ? "no aux loss" : "aux \(NumberText.compact(aux))")
        } else if model?["router"]?.string == "sigmoid-bias" {
            parts.append("bias rate " + ((training?["biasRate"]?.double).map { NumberText.compact($0) } ?? "?"))
        }
        if let seed = training?["seed"]?.int { parts.append("seed \(seed)") }
        // The strings came from run.json: escaped by the one sanitiser before they reach a screen.
        return parts.isEmpty ? nil : UntrustedText.sanitized(parts.joined(separator: " · "))
    }
}
