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
