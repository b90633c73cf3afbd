import Foundation
import IdaAnalysis
import IdaFormats
import IdaNumerics
import IdaRouting

/// `idamoe diff` as readable tables: a header naming both sides and the probe, then one block per layer.
extension DiffCommand {
    static func text(_ c: CheckpointComparison, ranks: Int? = nil) -> String {
        text(c, views: DiffRankViews.contiguous(c, ranks: ranks))
    }

    /// The tables, with each side's expert-parallel rows when `views` are given.
    static func text(_ c: CheckpointComparison, views: DiffRankViews?) -> String {
        var lines = [side("A", c.a), side("B", c.b)]
        let domains = c.domainNames.isEmpty ? "" : ", \(c.domainNames.count) domains"
        lines.append("basis  " + c.basis.summary)
        switch c.basis {
        case .sharedHidden:
            lines.append("probe  \(c.a.probe): \(c.tokens) tokens\(domains), streamed through both")
        case .ownProbes:
            lines.append("probe  each side's own snapshot probe (the router inputs at its step): \(c.tokens) tokens, "
                         + "same token ids\(domains)")
        case .text:
            lines.append("text   \(c.tokens) bytes, one token each, through each side's own model")
        }
        if c.sameRun, let run = c.a.reference.runDirectory {
            lines.append("same run (\(run)): indices line up, so raw figures lead; matched ones show relabelling")
        } else {
            lines.append("different runs: expert indices are unrelated, so experts are matched by co-assignment "
                         + "on the probe (Hungarian) and matched figures lead")
        }
        for l in c.layers { lines += [""] + layer(l, tau: c.tau, views: views) }
        lines += acrossRows(c, views: views)
        lines += ["", "load: share of all top-k assignments; top-1: share of tokens by first choice (fair share 1/E); "
                    + "kept: share of the tokens",
                  "whose first choice in A is the row's expert that go first to its counterpart in B; "
                    + "dead: probe usage below tau/K and, under a global prior, the prior too (tau \(c.tau))."]
        return lines.joined(separator: "\n") + "\n"
    }

    static func side(_ name: String, _ s: CheckpointComparison.Side) -> String {
        let ref = s.reference
        var where_ = ref.spec
        if ref.spec != ref.path {
            where_ += ref.spec.contains("@") ? "" : " (newest snapshot)"
        }
        let step = s.step.map { "step \($0)" } ?? "step unknown"
        var shape = "E \(s.experts)"
        if s.router == .ida { shape += ", M \(s.componentsPerExpert), P \(s.latentDim)" }
        // What a capture or an import is of comes from run.json: escaped before it is printed.
        let origin = UntrustedText.sanitized((s.capture.map { " · " + $0.summary } ?? "") + (s.imported.map { " · " + $0.summary } ?? ""))
        return "\(name)  \(where_) · \(step) · \(s.router.rawValue) router, \(shape), top-\(s.topK)\(origin)"
    }

    static func layer(_ l: LayerComparison, tau: Double, views: DiffRankViews? = nil) -> [String] {
        let lead = l.comparableIndices
        var out = ["layer \(l.layer)"]
        let jaccard = l.topKA == l.topKB ? "top-\(l.topKA) Jaccard" : "top-k Jaccard (k \(l.topKA) | \(l.topKB))"
        out.append("  agreement".padded(28) + " top-1   " + jaccard)
        func row(_ label: String, _ x: LayerComparison.Agreement) -> String {
            "    \(label)".padded(28) + pct(x.top1).leftPadded(to: 6) + "   " + String(format: "%.3f", x.topKJaccard)
        }
        let rawLine = row("raw indices", l.raw) + (lead ? "" : "   (indices unrelated)")
        // Within a run only the experts that moved are worth listing; across runs the whole map is the news.
        let pairs = l.matching.enumerated().filter { !lead || $0.element != $0.offset }
            .map { "e\($0.offset)→" + ($0.element.map { "e\($0)" } ?? "-") }
        let matchedLine = row("after matching experts", l.matched) + "   "
        let matching = l.matchingIsIdentity ? [matchedLine + "matching: identity"]
            : wrapped(matchedLine + (lead ? "matching A→B moves " : "matching A→B: "), pairs,
                      suffix: lead ? " (others fixed)" : "")
        out += lead ? [rawLine] + matching : matching + [rawLine]
        out += loadTable(l, byIndex: lead, views: views)
        out += components(l, tau: tau)
        out += domains(l)
        return out
    }

    /// Load, top-1 share and kept tokens per expert; B's expert is the same index (`byIndex`) or A's match.
    static func loadTable(_ l: LayerComparison, byIndex: Bool, views: DiffRankViews? = nil) -> [String] {
        func columns(_ values: [String]) -> String { values.map { $0.leftPadded(to: 9) }.joined() }
        var out = ["  " + (byIndex ? "expert" : "A → B").padded(10)
                   + columns(["load A", "load B", "Δ pts", "top-1 A", "top-1 B", "kept"]) + "   fair 1/E = " + fair(l)]
        var shown = Set<Int>()
        for e in 0..<l.expertsA {
            let partner = byIndex ? (e < l.expertsB ? e : nil) : l.matching[e]
            let label = byIndex ? "e\(e)" : "e\(e) → " + (partner.map { "e\($0)" } ?? "-")
            guard let b = partner else {
                out.append("  " + label.padded(10) + columns([pct(l.loadA[e]), "-", "-", pct(l.top1SharesA[e]), "-", "-"]))
                continue
            }
            shown.insert(b)
            let first = l.coAssignment[(e * l.expertsB)..<((e + 1) * l.expertsB)].reduce(0, +)
            let kept = first > 0 ? pct(Double(l.coAssignment[e * l.expertsB + b]) / Double(first), digits: 0) : "-"
            out.append("  " + label.padded(10) + columns([
                pct(l.loadA[e]), pct(l.loadB[b]), signed(100 * (l.loadB[b] - l.loadA[e]), digits: 1),
                pct(l.top1SharesA[e]), pct(l.top1SharesB[b]), kept]))
        }
        let extra = (0..<l.expertsB).filter { !shown.contains($0) }
        if !extra.isEmpty {
            out.append("  B only: " + extra.map { "e\($0) load \(pct(l.loadB[$0])) top-1 \(pct(l.top1SharesB[$0]))" }
                .joined(separator: ", "))
        }
        out.append("  CV".padded(12) + columns([String(format: "%.3f", l.cvA), String(format: "%.3f", l.cvB),
                                               signed(l.cvB - l.cvA, digits: 3)]))
        out += balanceRows(l, views: views)
        let maxA = log2(Double(l.expertsA)), maxB = log2(Double(l.expertsB))
        let ceiling = maxA == maxB ? String(format: "%.3f", maxA) : String(format: "%.3f | %.3f", maxA, maxB)
        out.append("  entropy".padded(12) + columns([String(format: "%.3f", l.meanEntropyA), String(format: "%.3f", l.meanEntropyB),
                                                    signed(l.meanEntropyB - l.meanEntropyA, digits: 3)])
                   + "   bits per token, mean (max \(ceiling))")
        let d = l.entropyChange
        let quantiles = [("p5", d.p5), ("p25", d.p25), ("p50", d.p50), ("p75", d.p75), ("p95", d.p95)]
            .map { "\($0.0) \(signed($0.1, digits: 3))" }.joined(separator: "  ")
        out.append("  entropy change B−A per token: \(quantiles)")
        if d.limit > 0 {
            out.append("    histogram " + String(format: "%.3f", -d.limit) + " ▕\(sparkline(d.counts))▏ "
                       + String(format: "%+.3f", d.limit) + "   (\(ValueDistribution.bins) equal bins, zero in the middle one)")
        } else {
            out.append("    every token's entropy is unchanged")
        }
        return out
    }

    /// `prefix` followed by `items`, wrapped at 110 columns onto lines indented under the first item.
    static func wrapped(_ prefix: String, _ items: [String], suffix: String = "") -> [String] {
        var lines: [String] = []
        var line = prefix
        let indent = String(repeating: " ", count: prefix.count)
        for (i, item) in items.enumerated() {
            if i > 0, line.count + item.count + 1 > 110 {
                lines.append(line)
                line = indent
            } else if i > 0 {
                line += " "
            }
            line += item
        }
        return lines + [line + suffix]
    }

    static func fair(_ l: LayerComparison) -> String {
        l.expertsA == l.expertsB ? pct(1 / Double(l.expertsA)) : "\(pct(1 / Double(l.expertsA))) | \(pct(1 / Double(l.expertsB)))"
    }

    /// Block characters proportional to each count (a space for zero).
    static func sparkline(_ counts: [Int]) -> String {
        let blocks = Array("▁▂▃▄▅▆▇█")
        let top = max(counts.max() ?? 0, 1)
        return String(counts.map { c in
            c == 0 ? " " : blocks[min(blocks.count - 1, (c * blocks.count - 1) / top)]
        })
    }

    static func pct(_ share: Double, digits: Int = 1) -> String { String(format: "%.\(digits)f%%", 100 * share) }

    static func signed(_ value: Double, digits: Int) -> String {
        let text = String(format: "%+.\(digits)f", value)
        // -0.000 and +0.000 read as a change; a zero is a zero.
        return Double(text) == 0 ? String(format: "%.\(digits)f", 0.0) : text
    }
}

extension String {
    /// The string left-aligned in `width` columns.
    func padded(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
