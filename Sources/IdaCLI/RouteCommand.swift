import ArgumentParser
import Foundation
import IdaBLAS
import IdaNumerics
import IdaAnalysis
import IdaRouting

/// `idamoe route`: streams probe tokens through a checkpoint's routers.
struct RouteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "route",
        abstract: "Stream probe tokens through a checkpoint's routers.",
        discussion: """
            Default output is a per-layer table of expert load, CV and MaxVio (of the top-1, top-k and
            gate-weighted load over the probe), mean entropy, NLL and dead components, then the quantiles of
            CV and MaxVio across layers.
            With --json: the same figures as one JSON document (docs/format.md, "idamoe route --json").
            With --ep G or --placement FILE: each layer's load per rank under expert parallelism, its MaxVio
            and the busiest rank; with --redundant R also after R slots replicate the hottest experts.
            With --jsonl: one JSON object per token and layer, token-major, layer-minor:
            {"token": n, "layer": i, "experts": [..], "weights": [..], "log_density": x, "entropy_bits": x}
            """)

    @Option(help: "Checkpoint (.safetensors) holding the routers.")
    var checkpoint: String

    @Option(help: "Probe (.safetensors) with tokens and hidden states.")
    var probe: String

    @Option(help: "Route only this MoE layer (transformer block index).")
    var layer: Int?

    @Option(name: .customLong("top-k"), help: "Experts per token (default: the checkpoint's).")
    var topK: Int?

    @Flag(help: "One JSON line per token and layer.")
    var jsonl = false

    @Flag(help: "The table's figures as one JSON document: per layer its loads, CVs, MaxVios and load quantiles; quantiles across layers.")
    var json = false

    @Flag(help: "The table lists every expert's load even when there are more than 16 (default: a summary).")
    var full = false

    @Flag(help: "With --jsonl, add the full posterior (K values; softmax routers: E probabilities).")
    var posterior = false

    @Flag(help: "After the table, what each layer's first-choice expert says about a token: mutual information with its domain, the token and the token before it, against a shuffled chance level.")
    var specialisation = false

    @Option(name: .customLong("ood-domains"), help: "Comma-separated probe domains the model never trained on (train --holdout-domains): after the table, per layer, AUROC of -log p(z) as an out-of-domain detector (IDA) and entropy and CV of held-out against seen tokens.")
    var oodDomains: String?

    @Option(help: "Expert parallelism over G ranks: after the table, each layer's load per rank (expert e on rank floor(e G / E)), its MaxVio and the busiest rank.")
    var ep: Int?

    @Option(help: "A physical-to-logical expert map (JSON: docs/format.md, \"The expert-parallel view\") placing the experts on the ranks instead of contiguously; --ep G gives the ranks if the file does not.")
    var placement: String?

    @Option(help: "With --ep or --placement: the what-if of R extra slots replicating the hottest experts, packed onto the ranks as EPLB does, and each layer's rank MaxVio after.")
    var redundant: Int?

    @OptionGroup var threads: ThreadsOption

    @Option(name: .customLong("block-size"), help: "Tokens per worker's block, rounded up to whole 256-token tiles; memory grows with it, not with N. Results do not depend on it.")
    var blockSize = 2048

    func validate() throws {
        if posterior && !jsonl { throw ValidationError("--posterior needs --jsonl") }
        if json && jsonl { throw ValidationError("--json and --jsonl are two outputs; pick one") }
        if json && (specialisation || oodDomains != nil || full) {
            throw ValidationError("--json holds every figure; --specialisation, --ood-domains and --full go with the table")
        }
        if specialisation && jsonl { throw ValidationError("--specialisation goes with the table, not --jsonl") }
        if oodDomains != nil && jsonl { throw ValidationError("--ood-domains goes with the table, not --jsonl") }
        if blockSize < 1 { throw ValidationError("--block-size must be at least 1") }
        if let ep, ep < 1 { throw ValidationError("--ep must be at least 1 rank") }
        if let redundant, redundant < 0 || redundant > ExpertPlacement.maxSlots {
            throw ValidationError("--redundant must be 0 to \(ExpertPlacement.maxSlots) slots")
        }
        if redundant != nil && ep == nil && placement == nil { throw ValidationError("--redundant needs --ep G or --placement FILE") }
        if (ep != nil || placement != nil) && (jsonl || specialisation || oodDomains != nil) {
            throw ValidationError("--ep and --placement go with the table or --json")
        }
    }

    func run() throws {
        let workers = try threads.workers()
        let ck = try RouterCheckpoint(path: checkpoint)
        let pr = try Probe(path: probe)
        let routing = try ProbeRouting(checkpoint: ck, probe: pr, layer: layer, topK: topK, blockSize: blockSize)
        let parallel = try expertParallel
        try parallel?.check(ck, routing.layers)
        if jsonl {
            let layers = routing.layers
            let withPosterior = posterior
            var out = OutputBuffer()
            try routing.run(workers: workers, detail: withPosterior ? .posteriors : .decisions, transform: { rows, results in
                var text = OutputBuffer(capacity: rows.count * layers.count * (withPosterior ? 3000 : 160))
                for (offset, token) in rows.enumerated() {
                    for (slot, i) in layers.enumerated() {
                        Self.writeLine(&text, token: token, offset: offset, layer: i, result: results[slot],
                                       posterior: withPosterior)
                    }
                }
                return text
            }, consume: { text in try out.append(text) })
            try out.flush()
        } else if specialisation || oodDomains != nil {
            let experts = routing.layers.map { ck.routers[$0]?.experts ?? 0 }
            var spec = specialisation ? Specialisation(probe: pr, layers: routing.layers, experts: experts) : nil
            let names = oodDomains?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            var ood = try names.map { try OutOfDomain(probe: pr, heldOutDomains: $0, layers: routing.layers, experts: experts) }
            let metrics = try routing.run(workers: workers, transform: { rows, results in (rows, results) },
                                          consume: { block in
                                              spec?.add(rows: block.0, results: block.1)
                                              ood?.add(rows: block.0, results: block.1)
                                          })
            try printTable(ck, pr, routing.layers, metrics)
            if let spec { try printSpecialisation(spec, tokens: pr.count) }
            if let ood, let names { try printOutOfDomain(ood, names: names) }
        } else {
            let metrics = try routing.run(workers: workers, detail: .decisions, transform: { _, _ in () }, consume: { _ in })
            let views = try parallel.map { try $0.views(ck, routing.layers, metrics) }
            if json {
                try StandardOutput.json(jsonDocument(ck, pr, routing.layers, metrics, parallel: parallel, views: views ?? []).serialized())
            } else {
                try printTable(ck, pr, routing.layers, metrics)
                if let parallel, let views { try printRanks(parallel, views) }
            }
        }
    }

    static func writeLine(_ out: inout OutputBuffer, token: Int, offset r: Int, layer: Int, result: RoutingResult,
                          posterior: Bool) {
        let k = result.topK
        out.write("{\"token\": \(token), \"layer\": \(layer), \"experts\": [")
        for j in 0..<k {
            if j > 0 { out.write(", ") }
            out.write(String(result.selected[r * k + j]))
        }
        out.write("], \"weights\": [")
        for j in 0..<k {
            if j > 0 { out.write(", ") }
            out.write(number: result.weights[r * k + j])
        }
        out.write("], \"log_density\": ")
        if let d = result.logDensity { out.write(number: d[r]) } else { out.write("null") }
        out.write(", \"entropy_bits\": ")
        out.write(number: result.entropyBits[r])
        if posterior {
            let w = result.posteriorWidth
            out.write(", \"posterior\": [")
            for c in 0..<w {
                if c > 0 { out.write(", ") }
                out.write(number: result.posterior[r * w + c])
            }
            out.write("]")
        }
        out.write("}\n")
    }

    /// Experts above which the table summarises the load instead of listing it (`--full` lists all).
    static let listedExperts = 16

    func printTable(_ ck: RouterCheckpoint, _ pr: Probe, _ layers: [Int], _ metrics: [Int: LayerMetrics]) throws {
        let step = ck.info.step.map { ", step \($0)" } ?? ""
        try StandardOutput.line("\(checkpoint): \(ck.info.router.rawValue) router\(step); \(probe): \(pr.count) tokens")
        let counts = layers.map { ck.info.config(layer: $0).experts }
        let e = counts.max() ?? ck.info.config.experts
        // With per-layer expert counts the fair share differs by layer: 1/E of each row.
        let fair = counts.allSatisfy { $0 == e } ? String(format: "%.1f", 100 / Double(e)) : "1/E of the layer"
        let listed = full || e <= Self.listedExperts
        let what = listed ? "load per expert (% of assignments, fair share \(fair))"
            : "load (% of assignments, fair share \(fair)): quantiles over experts, most and least loaded, starved (< 10% of fair)"
        try StandardOutput.line("CV of this probe's expert load: CV1 first choices, CVk all top-k assignments, CVg gate-weighted;")
        try StandardOutput.line("MaxVio (MV1, MVk, MVg) of the same loads: the largest expert's load over the mean, minus 1")
        try StandardOutput.line("layer   CV1   CVk   CVg   MV1   MVk   MVg  entropy        NLL     dead   " + what)
        var shown: [LayerMetrics] = []
        for i in layers {
            guard let m = metrics[i] else { continue }
            shown.append(m)
            let nll = m.nll.map { Self.column($0, width: 10) } ?? "         -"
            let dead = m.deadComponents.map { "\($0)/\(m.componentUsage?.count ?? 0)" } ?? "-"
            let load = listed ? m.load.map { String(format: "%5.1f", 100 * $0) }.joined(separator: " ") : Self.loadSummary(m.load)
            let figures = [m.cvTop1, m.cv, m.cvGate, m.maxVioTop1, m.maxVio, m.maxVioGate]
            try StandardOutput.line(String(format: "%5d ", i) + figures.map { Self.column($0, width: 5) }.joined(separator: " ")
                  + " " + Self.column(m.meanEntropyBits, width: 8) + " \(nll) "
                  + dead.leftPadded(to: 8) + "   " + load)
        }
        if shown.count > 1 {
            try StandardOutput.line("across \(shown.count) layers: CVk \(Self.acrossText(shown.map(\.cv))); "
                                    + "MVk \(Self.acrossText(shown.map(\.maxVio)))")
        }
    }

    /// `value` in `width` characters: fixed-point with three decimals when that fits, else with fewer,
    /// else in exponent notation (huge finite values keep the table's columns aligned).
    static func column(_ value: Double, width: Int) -> String {
        guard value.isFinite else { return (value.isNaN ? "nan" : value > 0 ? "inf" : "-inf").leftPadded(to: width) }
        for decimals in stride(from: 3, through: 0, by: -1) {
            let text = String(format: "%.\(decimals)f", value)
            if text.count <= width { return text.leftPadded(to: width) }
        }
        for digits in stride(from: max(width - 6, 0), through: 0, by: -1) {
            let text = String(format: "%.\(digits)e", value)
            if text.count <= width { return text.leftPadded(to: width) }
        }
        return String(repeating: "#", count: width)
    }

    /// Per layer and label: I(label; first expert) in bits, normalised by H(first expert), and the
    /// shuffled-label chance level.
    func printSpecialisation(_ spec: Specialisation, tokens: Int) throws {
        let labels = Specialisation.Label.allCases
        try StandardOutput.line("")
        try StandardOutput.line("specialisation: mutual information between a token's label and its first-choice expert over these \(tokens) tokens,")
        try StandardOutput.line("in bits, / H(expert) in parentheses, [chance: the same labels shuffled]")
        try StandardOutput.line("layer" + labels.map { " " + $0.rawValue.leftPadded(to: 21) }.joined())
        for (slot, layer) in spec.layers.enumerated() {
            var line = String(format: "%5d", layer)
            for label in labels {
                guard let f = spec.figure(slot: slot, label: label) else {
                    line += " " + "-".leftPadded(to: 21)
                    continue
                }
                line += " " + String(format: "%.3f (%.2f) [%.3f]", f.bits, f.normalized, f.chanceBits).leftPadded(to: 21)
            }
            try StandardOutput.line(line)
        }
    }

    /// Per layer: held-out against seen tokens.
    func printOutOfDomain(_ ood: OutOfDomain, names: [String]) throws {
        try StandardOutput.line("")
        let first = ood.figures(slot: 0)
        try StandardOutput.line("out of domain: \(first.heldOutTokens) tokens of \(names.joined(separator: ", ")) (held out of training) "
              + "against \(first.seenTokens) of the other domains")
        try StandardOutput.line("layer  AUROC -log p(z)   mean log p(z) seen / held-out   entropy bits seen / held-out   CVk seen / held-out")
        for (slot, layer) in ood.layers.enumerated() {
            let f = ood.figures(slot: slot)
            let auroc = f.auroc.map { String(format: "%.3f", $0) } ?? "-"
            let density = f.seenLogDensity.flatMap { s in f.heldOutLogDensity.map { String(format: "%.2f / %.2f", s, $0) } } ?? "-"
            // A side without tokens has no entropy or CV: "-", never "nan".
            func pair(_ seen: Double, _ held: Double) -> String {
                (f.seenTokens > 0 && seen.isFinite ? String(format: "%.3f", seen) : "-") + " / "
                    + (f.heldOutTokens > 0 && held.isFinite ? String(format: "%.3f", held) : "-")
            }
            try StandardOutput.line(String(format: "%5d ", layer) + auroc.leftPadded(to: 16) + density.leftPadded(to: 32)
                  + pair(f.seenEntropy, f.heldOutEntropy).leftPadded(to: 31) + pair(f.seenCV, f.heldOutCV).leftPadded(to: 22))
        }
    }

    /// "p50 0.95x p90 1.60x p99 2.20x max 2.40x fair | most e10 0.9, e13 0.8, e9 0.8 | least e13 0.0, e0 0.1,
    /// e4 0.1 | starved 3/256".
    static func loadSummary(_ load: [Double]) -> String {
        let ranked = load.indices.sorted { load[$0] > load[$1] || (load[$0] == load[$1] && $0 < $1) }
        func named(_ ids: ArraySlice<Int>) -> String {
            ids.map { "e\($0) " + String(format: "%.1f", 100 * load[$0]) }.joined(separator: ", ")
        }
        let fair = 1 / Double(max(load.count, 1))
        let starved = load.filter { $0 < 0.1 * fair }.count
        return quantileText(load) + " | most " + named(ranked.prefix(3)) + " | least " + named(ranked.suffix(3).reversed()[...])
            + " | starved \(starved)/\(load.count)"
    }
}

extension String {
    /// The string right-aligned in `width` columns.
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
