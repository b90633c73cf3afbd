import Foundation
import IdaRouting
import IdaFormats
import IdaNumerics
import IdaTerminal

/// The training settings that tell runs apart (router, reactivation, latent norm, aux loss, seed),
/// read from a run directory's run.json (`RunDescription`, lenient) for the title line and the A | B
/// labels.
public enum RunSettings {
    /// "reactivation reset from pool · latent rms · gate T 4 · seed 1" (IDA) or "aux 0.01 · seed 2" (softmax); nil when
    /// the directory has no readable run.json.
    public static func summary(runDirectory: String) -> String? {
        RunDescription.read(directory: runDirectory).flatMap(summary)
    }

    /// What the Overview's training panel says when the log holds no step: a capture has no training.
    public static func trainingNote(_ run: RunDescription) -> String? {
        if let imported = run.imported {
            return UntrustedText.sanitized("no loss recorded: routing decisions of \(imported.summary)")
        }
        return run.capture.map { UntrustedText.sanitized("no training: the routers of \($0.architecture ?? "a model") captured on a text") }
    }

    /// The summary of a run's description (docs/format.md), escaped by `UntrustedText`; settings the
    /// run.json does not give are left out.
    public static func summary(_ run: RunDescription) -> String? {
        let model = run.model, training = run.training
        var parts: [String] = []
        if let imported = run.imported {
            // An import is told apart by what recorded it and from where.
            parts.append(imported.summary)
            if let ranks = imported.ranks, ranks > 1 { parts.append("\(ranks) ranks") }
            if let tokens = imported.tokens { parts.append("tokens: " + tokens) }
            return UntrustedText.sanitized(parts.joined(separator: " · "))
        }
        if let capture = run.capture {
            // A capture has no training settings to tell it apart: what it is a capture of does.
            parts.append(capture.summary)
            if let tokens = capture.tokens { parts.append("tokens: " + tokens) }
            return UntrustedText.sanitized(parts.joined(separator: " · "))
        }
        if run.modelKeys.contains("router") {
            switch model.router {
            case .ida:
                if run.trainingKeys.contains("reactivation") {
                    parts.append("reactivation \(training.reactivation.rawValue)" + (training.reseed == .pool ? " from pool" : training.reseed == .split ? " by split" : ""))
                }
                parts.append("latent " + (model.latentNorm?.rawValue ?? "none"))
                if let t = model.gateTemperature, t != GateTemperature.absent {
                    parts.append("gate T " + (t == t.rounded() && abs(t) < 1e6 ? String(Int(t)) : NumberText.compact(t)))
                }
                if training.nllToEncoder == true { parts.append("nll to encoder") }
                if model.priorMass == .perExpert { parts.append("prior 1/E per expert") }
            case .softmax:
                let aux = run.trainingKeys.contains("auxLoss") ? training.auxLoss : 0
                parts.append(aux == 0 ? "no aux loss" : "aux \(NumberText.compact(aux))")
            case .sigmoidBias:
                parts.append("bias rate " + (training.biasRate.map { NumberText.compact($0) } ?? "?"))
            case .recorded:
                parts.append("recorded decisions")
            }
        }
        if run.trainingKeys.contains("seed") { parts.append("seed \(training.seed)") }
        // The strings came from run.json: escaped by the one sanitiser before they reach a screen.
        return parts.isEmpty ? nil : UntrustedText.sanitized(parts.joined(separator: " · "))
    }
}
