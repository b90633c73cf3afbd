import Foundation
import IdaAnalysis
import IdaRouting
import IdaNumerics

/// The component and domain parts of a layer's block in `idamoe diff`.
extension DiffCommand {
    /// Rows of "largest" lists and items of died/revived lists shown.
    static let topItems = 5
    /// Domains listed before the rest are summarised.
    static let domainRows = 10

    static func components(_ l: LayerComparison, tau: Double) -> [String] {
        guard let c = l.components else {
            if l.kindA == l.kindB { return [] }
            return ["  components: only \(l.kindA == .ida ? "A" : "B") is an IDA router"]
        }
        let kA = c.priorsA.count, kB = c.priorsB.count
        let threshold = kA == kB ? pct(tau / Double(kA), digits: 2)
            : "\(pct(tau / Double(kA), digits: 2)) | \(pct(tau / Double(kB), digits: 2))"
        let (wordsA, wordsB) = (ReactivationState.deadRuleWords(c.priorMassA).dead, ReactivationState.deadRuleWords(c.priorMassB).dead)
        let rule = wordsA == wordsB ? wordsA : "A \(wordsA), B \(wordsB)"
        var out = ["  components  K \(kA == kB ? "\(kA)" : "\(kA) | \(kB)"); dead (\(rule) < tau/K = \(threshold)): "
                   + "A \(c.deadA.count), B \(c.deadB.count)"]
        guard l.comparableIndices, let change = c.priorChange else {
            out.append("    component indices of different runs are unrelated: no per-component changes")
            return out
        }
        func name(_ k: Int) -> String { "k\(k) e\(c.expertB(ofComponent: k))" }
        func events(_ ks: [Int]) -> String {
            let items = ks.prefix(8).map { "\(name($0)) π \(pct(c.priorsA[$0], digits: 2))→\(pct(c.priorsB[$0], digits: 2))" }
            return ks.isEmpty ? "none" : "\(ks.count): " + items.joined(separator: ", ") + (ks.count > 8 ? ", …" : "")
        }
        out.append("    died      " + events(c.died))
        out.append("    revived   " + events(c.revived))
        let byPrior = largest(change.map(abs))
        let byShift = c.meanShift.map(largest) ?? []
        let rows = Set(byPrior + byShift).sorted()
        guard !rows.isEmpty else { return out }
        func columns(_ values: [String]) -> String { values.map { $0.leftPadded(to: 9) }.joined() }
        out.append("    " + "comp".padded(10) + columns(["π A", "π B", "Δπ pts", "usage A", "usage B"])
                   + (c.meanShift == nil ? "" : "mean shift".leftPadded(to: 12)))
        for k in rows {
            let shift = c.meanShift.map { String(format: "%.3f", $0[k]).leftPadded(to: 12) } ?? ""
            out.append("    " + name(k).padded(10) + columns([
                pct(c.priorsA[k], digits: 2), pct(c.priorsB[k], digits: 2), signed(100 * change[k], digits: 2),
                pct(c.usageA[k]), pct(c.usageB[k])]) + shift)
        }
        var note = "    (the \(topItems) largest prior changes"
        if let shift = c.meanShift {
            note += String(format: " and mean shifts; median shift %.3f latent units", shift.sorted()[shift.count / 2])
        }
        out.append(note + ")")
        return out
    }

    /// Indices of the `topItems` largest positive values, largest first (ties to the lower index).
    static func largest(_ values: [Double]) -> [Int] {
        Array(values.indices.sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }
            .prefix(topItems).filter { values[$0] > 0 })
    }

    static func domains(_ l: LayerComparison) -> [String] {
        let used = l.domains.filter { $0.tokens > 0 }
        guard !used.isEmpty else { return [] }
        func shift(_ d: LayerComparison.DomainShares) -> Double { l.comparableIndices ? d.shiftRaw : d.shiftMatched }
        let order = used.sorted { shift($0) > shift($1) || (shift($0) == shift($1) && $0.domain < $1.domain) }
        let shown = order.count > domainRows + 2 ? Array(order.prefix(domainRows)) : order
        let width = shown.map { label($0).count }.max() ?? 0
        var out = ["  domains: top-1 experts by share of the domain's tokens"
                   + (l.comparableIndices ? "" : " (B's own indices)") + "; shift = total variation"
                   + (l.comparableIndices ? "" : " after matching") + ", largest first"]
        for d in shown {
            out.append("    " + label(d).padded(width + 1) + String(format: "shift %.2f   ", shift(d))
                       + "A " + top(d.sharesA).padded(22) + "B " + top(d.sharesB))
        }
        if shown.count < order.count {
            let rest = order.dropFirst(shown.count).map(shift)
            out.append(String(format: "    … %d more domains, shift %.2f to %.2f (--json lists all)",
                              rest.count, rest.min() ?? 0, rest.max() ?? 0))
        }
        return out
    }

    static func label(_ d: LayerComparison.DomainShares) -> String {
        let name = d.name.isEmpty ? "domain \(d.domain)" : d.name
        return "\(name.count > 16 ? String(name.prefix(15)) + "…" : name) (\(d.tokens))"
    }

    /// The three experts with the largest shares, largest first (ties to the lower index).
    static func top(_ shares: [Double]) -> String {
        shares.indices.sorted { shares[$0] > shares[$1] || (shares[$0] == shares[$1] && $0 < $1) }
            .prefix(3).filter { shares[$0] > 0 }
            .map { "e\($0) \(pct(shares[$0], digits: 0))" }.joined(separator: " ")
    }
}
