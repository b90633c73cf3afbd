extension LayerComparison {
    /// Per domain: the share of its tokens whose best expert is e, on each side, and how far the two
    /// distributions are apart (total variation, raw and through `matching`).
    static func domainShares(_ a: LayerRoutingSummary, _ b: LayerRoutingSummary, _ options: ComparisonOptions,
                             matching: [Int?]) -> [DomainShares] {
        guard let domains = options.domains, domains.count == a.tokens else { return [] }
        let ids = max(Int(domains.max() ?? -1) + 1, options.domainNames.count)
        var countsA = [[Int]](repeating: [Int](repeating: 0, count: a.experts), count: ids)
        var countsB = [[Int]](repeating: [Int](repeating: 0, count: b.experts), count: ids)
        var tokens = [Int](repeating: 0, count: ids)
        for (n, d) in domains.enumerated() where d >= 0 {
            let id = Int(d)
            tokens[id] += 1
            countsA[id][a.top1(n)] += 1
            countsB[id][b.top1(n)] += 1
        }
        return (0..<ids).map { id in
            let total = Double(max(tokens[id], 1))
            let sharesA = countsA[id].map { Double($0) / total }
            let sharesB = countsB[id].map { Double($0) / total }
            let identity = (0..<a.experts).map { $0 < b.experts ? $0 : nil }
            return DomainShares(domain: id, name: id < options.domainNames.count ? options.domainNames[id] : "",
                                tokens: tokens[id], sharesA: sharesA, sharesB: sharesB,
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
