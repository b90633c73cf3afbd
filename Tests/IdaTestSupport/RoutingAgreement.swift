import IdaNumerics

/// Tokens whose expert choices differ between two routings of the same tokens although no tie could
/// explain it: the decision margin in `a` (the smallest gap between adjacent scores among the k + 1
/// best experts, scores rebuilt from `a`'s posterior with M components per expert) exceeds `margin`.
/// Results from different code paths (GEMM shapes, thread counts, kernels) differ in their last bits,
/// so tests compare them with tolerances and these exact decisions away from ties.
public func choicesDifferingAwayFromTies(_ a: RoutingResult, _ b: RoutingResult, componentsPerExpert m: Int,
                                         sumScores: Bool = false, margin: Double = 1e-6) -> [Int] {
    precondition(a.tokens == b.tokens && a.topK == b.topK, "routings of different shapes")
    let e = a.experts, k = a.topK, width = a.posteriorWidth
    var differing: [Int] = []
    for n in 0..<a.tokens where a.selected[(n * k)..<((n + 1) * k)] != b.selected[(n * k)..<((n + 1) * k)] {
        var scores = [Double](repeating: 0, count: e)
        for x in 0..<e {
            let values = (x * m)..<((x + 1) * m)
            let row = values.map { a.posterior[n * width + $0] }
            scores[x] = sumScores ? row.reduce(0, +) : (row.max() ?? 0)
        }
        let sorted = scores.sorted(by: >).prefix(min(k + 1, e))
        let gaps = zip(sorted, sorted.dropFirst()).map { $0 - $1 }
        if (gaps.min() ?? .infinity) > margin { differing.append(n) }
    }
    return differing
}
