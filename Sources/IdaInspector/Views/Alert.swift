import IdaTerminal
import IdaNumerics

/// One line of the overview's alerts panel: how serious it is and what it says.
struct Alert: Sendable, Equatable {
    /// Severity, most serious first.
    enum Level: Int, Sendable, Comparable {
        /// Broken numbers or starved experts.
        case error
        /// Imbalance or dead components worth watching.
        case warning
        /// Progress notes ("waiting for the first snapshot…").
        case info
        /// Nothing to report.
        case ok

        /// Orders by severity.
        static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    /// Severity.
    var level: Level
    /// The text, without a marker.
    var text: String

    /// Every alert for the state, errors first, then in layer and expert order (data only: the
    /// overview draws them). `ellipsis` is the glyph placeholders end with.
    static func all(for state: InspectorState, ellipsis: String = "…") -> [Alert] {
        var out: [Alert] = []
        out += state.runProblems.map { Alert(level: $0.serious ? .error : .warning, text: $0.text) }
        if let notice = state.runNotice { out.append(Alert(level: .info, text: notice)) }
        if let failure = state.analysisFailure {
            out.append(Alert(level: .error, text: "step \(state.selectedStep.map(String.init) ?? "?") cannot be analysed: \(failure)"))
        }
        if let problem = state.expertParallelProblem { out.append(Alert(level: .error, text: problem)) }
        if state.analysis == nil, state.analysisFailure == nil {
            let what = state.analyzing.map { "analysing step \($0)" } ?? "waiting for the first snapshot"
            out.append(Alert(level: .info, text: what + ellipsis))
        }
        out += historyAlerts(state.history)
        let matrix = LoadMatrix.from(state)
        if let matrix {
            // One alert per starved expert, or one per layer listing them when a layer has more than three.
            let starved = Dictionary(grouping: matrix.starved(), by: \.row)
            for row in starved.keys.sorted() {
                guard let list = starved[row] else { continue }
                let fair = 1 / Double(matrix.loads[row].count)
                if list.count > 3 {
                    let names = list.prefix(8).map { "e\($0.expert)" }.joined(separator: " ") + (list.count > 8 ? " " + ellipsis : "")
                    out.append(Alert(level: .error, text: "layer \(matrix.layers[row]): \(list.count) experts starved "
                        + "(under 10% of fair \(NumberText.percent(fair))): " + names))
                    continue
                }
                for s in list {
                    out.append(Alert(level: .error, text: "layer \(matrix.layers[s.row]) expert \(s.expert) starved: "
                        + "\(NumberText.percent(s.share)) of assignments (fair \(NumberText.percent(fair)))"))
                }
            }
            for (row, cv) in matrix.cvs.enumerated() where cv > 1 {
                out.append(Alert(level: .warning, text: "layer \(matrix.layers[row]) \(matrix.cvName) \(ViewFormat.fixed2(cv)) > 1.0"))
            }
        }
        if let analysis = state.analysis {
            for layer in analysis.layerOrder {
                guard let la = analysis.layers[layer] else { continue }
                out += layerAlerts(la)
            }
        } else if let latest = state.history.latest {
            for l in latest.layers where (l.dead ?? 0) > 0 {
                out.append(Alert(level: .warning, text: "layer \(l.layer): \(l.dead ?? 0) dead component" + ((l.dead ?? 0) == 1 ? "" : "s") + " (training)"))
            }
        }
        if !out.contains(where: { $0.level <= .warning }) && (matrix != nil || state.history.latest != nil) {
            out.append(Alert(level: .ok, text: "all clear: no starved expert, every CV at most 1, all values finite"))
        }
        return out.enumerated().sorted { ($0.element.level, $0.offset) < ($1.element.level, $1.offset) }.map(\.element)
    }

    /// Non-finite loss, train CV or held-out CV in the training log, or either CV above 1.
    static func historyAlerts(_ history: RunHistory) -> [Alert] {
        var out: [Alert] = []
        guard let latest = history.latest else { return out }
        // Only a logged non-finite loss (`null`) is one; a line without a number for it is skipped.
        let firstBad = history.steps.first { $0.loss.map { !$0.isFinite } ?? false }
        if let last = history.latestLoss, let loss = last.loss, !loss.isFinite {
            let since = firstBad.map { " (first at step \($0.step))" } ?? ""
            out.append(Alert(level: .error, text: "loss is \(ViewFormat.fixed3(loss)) at step \(last.step)" + since))
        } else if let firstBad {
            out.append(Alert(level: .warning, text: "loss was non-finite at step \(firstBad.step), finite since"))
        }
        if !latest.cvMean.isFinite {
            out.append(Alert(level: .error, text: "train CV (batch) is \(ViewFormat.fixed3(latest.cvMean)) at step \(latest.step)"))
        } else if latest.cvMean > 1 {
            out.append(Alert(level: .warning, text: "train CV (batch) \(ViewFormat.fixed2(latest.cvMean)) > 1.0 at step \(latest.step)"))
        }
        if let eval = history.latestHeldout, let cv = eval.heldoutTopK {
            if !cv.isFinite {
                out.append(Alert(level: .error, text: "held-out CV is \(ViewFormat.fixed3(cv)) at eval step \(eval.step)"))
            } else if cv > 1 {
                out.append(Alert(level: .warning, text: "held-out CV (top-k) \(ViewFormat.fixed2(cv)) > 1.0 at eval step \(eval.step)"))
            }
        }
        return out
    }

    /// Non-finite metrics and dead components of one analysed layer.
    static func layerAlerts(_ la: LayerAnalysis) -> [Alert] {
        var out: [Alert] = []
        let m = la.metrics
        var broken: [String] = []
        if m.load.contains(where: { !$0.isFinite }) || !m.cv.isFinite { broken.append("load") }
        if !m.meanEntropyBits.isFinite { broken.append("entropy") }
        if let nll = m.nll, !nll.isFinite { broken.append("nll") }
        if !broken.isEmpty {
            out.append(Alert(level: .error, text: "layer \(la.layer) non-finite " + broken.joined(separator: ", ")))
        }
        let badDensity = la.logDensity?.filter { !$0.isFinite }.count ?? 0
        if badDensity > 0 {
            out.append(Alert(level: .error, text: "layer \(la.layer): \(badDensity) tokens with non-finite log p(z)"))
        }
        if let dead = m.deadComponents, dead > 0 {
            out.append(Alert(level: .warning, text: "layer \(la.layer): \(dead) of \(la.priors.count) components dead "
                + "(\(ReactivationState.deadRuleWords(la.priorMass).dead) < \(ReactivationConfig.defaultTau)/K"
                + (la.priorMass == .perExpert ? "; per-expert prior)" : ")")))
        }
        return out
    }
}
