import IdaRouting
extension LayerComparison {
    /// Co-assignment counts: `top1[a * E_B + b]` tokens have best expert a in A and b in B;
    /// `topK[a * E_B + b]` tokens have a among A's top-k and b among B's top-k.
    struct CoAssignments {
        var top1: [Int]
        var topK: [Int]
    }

    static func coAssignments(_ a: LayerRoutingSummary, _ b: LayerRoutingSummary) -> CoAssignments {
        let eb = b.experts
        var top1 = [Int](repeating: 0, count: a.experts * eb)
        var topK = [Int](repeating: 0, count: a.experts * eb)
        for n in 0..<a.tokens {
            top1[a.top1(n) * eb + b.top1(n)] += 1
            for i in 0..<a.topK {
                let row = Int(a.selected[n * a.topK + i]) * eb
                for j in 0..<b.topK { topK[row + Int(b.selected[n * b.topK + j])] += 1 }
            }
        }
        return CoAssignments(top1: top1, topK: topK)
    }

    /// The maximum co-assignment matching of A's experts to B's.
    ///
    /// The objective is lexicographic: most tokens on matched top-1 pairs first; among equal matchings,
    /// most top-k co-assignments (so experts that are rarely anyone's first choice are still matched by
    /// evidence); then most experts mapped to their own index (so a self-comparison gives the identity
    /// even for unused experts). With integer counts the orders are kept apart exactly by scaling: the
    /// identity term sums to at most min(E_A, E_B) < s2, the top-k term to at most N min(k_A, k_B).
    /// When the scaled sum would pass 2^52 (huge probes) the top-k term is dropped.
    static func match(_ counts: CoAssignments, _ a: LayerRoutingSummary,
                      _ b: LayerRoutingSummary) throws(ComparisonError) -> [Int?] {
        let s2 = Double(min(a.experts, b.experts) + 1)
        var s1 = (Double(a.tokens * min(a.topK, b.topK)) + 1) * s2
        let useTopK = (Double(a.tokens) + 1) * s1 < 4_503_599_627_370_496
        if !useTopK { s1 = s2 }
        var weights = [Double](repeating: 0, count: a.experts * b.experts)
        for x in 0..<a.experts {
            for y in 0..<b.experts {
                let i = x * b.experts + y
                weights[i] = Double(counts.top1[i]) * s1 + (useTopK ? Double(counts.topK[i]) * s2 : 0) + (x == y ? 1 : 0)
            }
        }
        return try Hungarian.maximumWeightAssignment(rows: a.experts, cols: b.experts, weights: weights)
    }

    /// Agreement of the two routings after mapping each A expert through `mapping` (nil: matches nothing).
    static func agreement(_ a: LayerRoutingSummary, _ b: LayerRoutingSummary, mapping: [Int?]) -> Agreement {
        let n = a.tokens
        guard n > 0 else { return Agreement(top1: 1, topKJaccard: 1) }
        var same = 0
        var jaccard = 0.0
        for t in 0..<n {
            if let m = mapping[a.top1(t)], m == b.top1(t) { same += 1 }
            // A token's k experts are distinct on each side and the mapping is one to one, so the
            // intersection is the mapped A experts found among B's, and |A u B| = kA + kB - |A n B|.
            var shared = 0
            for i in 0..<a.topK {
                guard let m = mapping[Int(a.selected[t * a.topK + i])] else { continue }
                for j in 0..<b.topK where Int(b.selected[t * b.topK + j]) == m {
                    shared += 1
                    break
                }
            }
            jaccard += Double(shared) / Double(max(a.topK + b.topK - shared, 1))
        }
        return Agreement(top1: Double(same) / Double(n), topKJaccard: jaccard / Double(n))
    }
}
