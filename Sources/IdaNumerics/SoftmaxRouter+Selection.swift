/// Buffers one forward reuses for every token's group-limited choice (no allocation per token).
struct GroupScratch {
    /// Selection scores with the experts of dropped groups at -infinity [E].
    var masked: [Double]
    /// Group scores [G].
    var groupScores: [Double]
    /// The eligible groups [groupTopK].
    var kept: [Int32]

    init(experts: Int, options: GateOptions) {
        masked = [Double](repeating: 0, count: options.limitsGroups ? experts : 0)
        groupScores = [Double](repeating: 0, count: options.limitsGroups ? options.groups : 0)
        kept = [Int32](repeating: 0, count: options.limitsGroups ? options.groupTopK : 0)
    }
}

extension SoftmaxRouter {
    /// The top-k experts of one token by its selection scores [E] into `out` [k], best first, ties to
    /// the lower index. With group-limited routing (DeepSeek-V3's `n_group`, `topk_group`) a group's
    /// score is the sum of its two best selection scores (its one score when a group holds one expert)
    /// or, with `groupScore` `max`, its best one (DeepSeek-V2), the `groupTopK` best groups are kept
    /// (ties to the lower group) and the top-k is taken among their experts only.
    func selectExperts(_ selection: UnsafeBufferPointer<Double>, into out: UnsafeMutableBufferPointer<Int32>,
                       scratch: inout GroupScratch) {
        let options = gateOptions
        guard options.limitsGroups else {
            topKIndices(selection, k: out.count, into: out)
            return
        }
        let size = experts / options.groups
        for g in 0..<options.groups {
            var first = -Double.infinity, second = -Double.infinity
            for x in (g * size)..<((g + 1) * size) {
                let v = selection[x]
                if v > first { second = first; first = v } else if v > second { second = v }
            }
            scratch.groupScores[g] = size == 1 || options.groupScore == .max ? first : first + second
        }
        scratch.groupScores.withUnsafeBufferPointer { gs in
            scratch.kept.withUnsafeMutableBufferPointer { topKIndices(gs, k: options.groupTopK, into: $0) }
        }
        for x in 0..<experts { scratch.masked[x] = -Double.infinity }
        for g in scratch.kept {
            let start = Int(g) * size
            for x in start..<(start + size) { scratch.masked[x] = selection[x] }
        }
        scratch.masked.withUnsafeBufferPointer { topKIndices($0, k: out.count, into: out) }
    }

    /// One token's gates from the scores [E] (softmax probabilities or sigmoids, without any selection
    /// bias) of its chosen experts: renormalised to sum 1 unless `normalize` is off, then times `scale`.
    func gateWeights(_ scores: UnsafeBufferPointer<Double>, selected: UnsafeBufferPointer<Int32>,
                     into weights: UnsafeMutableBufferPointer<Float>) {
        var norm = 0.0
        for j in 0..<selected.count { norm += scores[Int(selected[j])] }
        let factor = Double(gateOptions.scale) / (gateOptions.normalize ? norm : 1)
        for j in 0..<selected.count { weights[j] = Float(scores[Int(selected[j])] * factor) }
    }

    /// dL/d(score of the j-th chosen expert) from dL/d(gate j) of one token: gates w = c u with u = s / S
    /// (S the sum of the chosen scores) or u = s, so ds_j = (c dw_j - sum_i dw_i w_i) / S or c dw_j.
    /// `inner` is sum_i dw_i w_i and `norm` is S.
    func chosenScoreGradient(_ dw: Double, inner: Double, norm: Double) -> Double {
        let c = Double(gateOptions.scale)
        return gateOptions.normalize ? (c * dw - inner) / norm : c * dw
    }
}
