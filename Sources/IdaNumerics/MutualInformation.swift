import Foundation

/// Joint counts of a discrete label (a token's domain, its byte, the byte before it) and the expert a
/// router chose first, and the mutual information between them: how much knowing the label tells
/// about the expert (the paper's "specialisation").
public struct LabelExpertCounts: Sendable, Equatable {
    /// Experts E.
    public let experts: Int
    /// counts[label] [E]: how often a token with that label went first to each expert.
    public private(set) var counts: [Int32: [Double]] = [:]
    /// Tokens counted.
    public private(set) var tokens = 0

    /// Empty counts over E experts.
    public init(experts: Int) { self.experts = experts }

    /// Counts one token.
    public mutating func add(label: Int32, expert: Int) {
        counts[label, default: [Double](repeating: 0, count: experts)][expert] += 1
        tokens += 1
    }

    /// Counts `labels[i]` against expert `choices[i]` for every i (same lengths; choices outside
    /// 0..<E are skipped). Labels spanning at most 2^16 values are counted in a flat table first (a
    /// probe's bytes, classes or positions: no hashing per token), others one by one; either way
    /// the counts are the same as `add(label:expert:)` token by token.
    public mutating func add(labels: ArraySlice<Int32>, choices: ArraySlice<Int32>) {
        precondition(labels.count == choices.count, "labels and choices differ in length")
        guard let low = labels.min(), let high = labels.max() else { return }
        let labels = Array(labels), choices = Array(choices)
        let span = Int(high) - Int(low) + 1
        guard span <= 1 << 16 else {
            for (label, choice) in zip(labels, choices) where choice >= 0 && Int(choice) < experts {
                add(label: label, expert: Int(choice))
            }
            return
        }
        var flat = [Double](repeating: 0, count: span * experts)
        var added = 0
        let e = experts, base = Int(low)
        flat.withUnsafeMutableBufferPointer { table in
            for i in labels.indices {
                let choice = Int(choices[i])
                guard choice >= 0 && choice < e else { continue }
                table[(Int(labels[i]) - base) * e + choice] += 1
                added += 1
            }
        }
        for offset in 0..<span {
            let row = flat[(offset * experts)..<((offset + 1) * experts)]
            guard row.contains(where: { $0 > 0 }) else { continue }
            let label = Int32(Int(low) + offset)
            var mine = counts[label] ?? [Double](repeating: 0, count: experts)
            for (e, v) in row.enumerated() { mine[e] += v }
            counts[label] = mine
        }
        tokens += added
    }

    /// Adds another table's counts (blocks of a probe, in any order: sums of integers).
    public mutating func merge(_ other: LabelExpertCounts) {
        for (label, row) in other.counts {
            var mine = counts[label] ?? [Double](repeating: 0, count: experts)
            for e in 0..<experts { mine[e] += row[e] }
            counts[label] = mine
        }
        tokens += other.tokens
    }

    /// Entropy of the expert marginal H(E) in bits.
    public var expertEntropyBits: Double {
        var marginal = [Double](repeating: 0, count: experts)
        for row in counts.values { for e in 0..<experts { marginal[e] += row[e] } }
        return Self.entropyBits(marginal)
    }

    /// Plug-in mutual information I(label; expert) = H(E) - H(E | label) in bits (0 for no tokens).
    public var mutualInformationBits: Double {
        guard tokens > 0 else { return 0 }
        var conditional = 0.0
        for row in counts.values {
            let total = row.reduce(0, +)
            conditional += total / Double(tokens) * Self.entropyBits(row)
        }
        return max(0, expertEntropyBits - conditional)
    }

    /// I / H(E): the share of the expert choice's uncertainty the label explains (0: none; 1: the
    /// label decides the expert). 0 when every token goes to one expert.
    public var normalizedMutualInformation: Double {
        let h = expertEntropyBits
        return h > 0 ? mutualInformationBits / h : 0
    }

    /// -sum p log2 p of counts normalised to sum 1.
    static func entropyBits(_ counts: [Double]) -> Double {
        let total = counts.reduce(0, +)
        guard total > 0 else { return 0 }
        var h = 0.0
        for c in counts where c > 0 {
            let p = c / total
            h -= p * Foundation.log2(p)
        }
        return h
    }
}

/// Area under the ROC curve of a score that should be higher for `positive` than for `negative`
/// items: the probability that a random positive outscores a random negative, ties counting half
/// (Mann-Whitney U over average ranks). nil when either side is empty or a score is NaN.
public func areaUnderROC(positive: [Double], negative: [Double]) -> Double? {
    guard !positive.isEmpty, !negative.isEmpty,
          !positive.contains(where: \.isNaN), !negative.contains(where: \.isNaN) else { return nil }
    let all = (positive.map { ($0, true) } + negative.map { ($0, false) }).sorted { $0.0 < $1.0 }
    var rankSum = 0.0
    var i = 0
    while i < all.count {
        var j = i
        while j + 1 < all.count && all[j + 1].0 == all[i].0 { j += 1 }
        let rank = Double(i + j) / 2 + 1  // average of ranks i+1 ... j+1
        for m in i...j where all[m].1 { rankSum += rank }
        i = j + 1
    }
    let p = Double(positive.count), n = Double(negative.count)
    return (rankSum - p * (p + 1) / 2) / (p * n)
}
