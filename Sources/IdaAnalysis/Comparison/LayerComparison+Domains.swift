import IdaRouting
extension LayerComparison {
    /// Per domain: the share of its tokens whose best expert is e, on each side, and how far the two
    /// distributions are apart (total variation, raw and through `matching`).
    static func domainShares(_ a: LayerRoutingSummary, _ b: LayerRoutingSummary, _ options: ComparisonOptions,
                             matching: [Int?]) -> [DomainShares] {
        guard let domains = options.domains, domains.count == a.tokens else { return [] }
        // Tables follow the ids present (and the named ones), never the largest id: a probe with one
        // domain id of 10^9 costs what one domain costs.
        var present = Set(0..<options.domainNames.count)
        for d in domains where d >= 0 { present.insert(Int(d)) }
        let ids = present.sorted()
        let slot = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($0.element, $0.offset) })
        var countsA = [[Int]](repeating: [Int](repeating: 0, count: a.experts), count: ids.count)
        var countsB = [[Int]](repeating: [Int](repeating: 0, count: b.experts), count: ids.count)
        var tokens = [Int](repeating: 0, count: ids.count)
        var last = (id: Int32(-1), slot: 0)
        for (n, d) in domains.enumerated() where d >= 0 {
            if d != last.id { last = (d, slot[Int(d)] ?? 0) }
            tokens[last.slot] += 1
            countsA[last.slot][a.top1(n)] += 1
            countsB[last.slot][b.top1(n)] += 1
        }
        let identity = (0..<a.experts).map { $0 < b.experts ? $0 : nil }
        return ids.enumerated().map { s, id in
            let total = Double(max(tokens[s], 1))
            let sharesA = countsA[s].map { Double($0) / total }
            let sharesB = countsB[s].map { Double($0) / total }
            return DomainShares(domain: id, name: id < options.domainNames.count ? options.domainNames[id] : "",
                                tokens: tokens[s], sharesA: sharesA, sharesB: sharesB,
                                shiftRaw: totalVariation(sharesA, sharesB, mapping: identity),
                                shiftMatched: totalVariation(sharesA, sharesB, mapping: matching))
        }
    }

    /// 1/2 sum |p_a - q_m(a)| over A's experts, plus the mass of unmatched experts on either side.
    static func totalVariation(_ p: [Double], _ q: [Double], mapping: [Int?]) -> Double {
        var distance = 0.0
        var covered = [Bool](repeating: false, count: q.count)
        for (e, m) in mapping.enumerated() {
            if let m {
                distance += abs(p[e] - q[m])
                covered[m] = true
            } else {
                distance += p[e]
            }
        }
        for (e, seen) in covered.enumerated() where !seen { distance += q[e] }
        return distance / 2
    }
}
