import Foundation

/// The distribution of per-token routing entropy over the probe for one MoE layer (the paper's
/// Figure 6): token counts in equal bins over [0, log2 E] bits. Panels keep this, not the values.
public struct EntropyHistogram: Sendable, Equatable {
    /// Fine bins counted; drawn merged into any count that divides it (120, 80, 60, 48, 40, 30, 24,
    /// 20, 16, 15, 12, 10, 8, ...).
    public static let bins = 240

    /// The largest possible entropy, log2 E bits (the right edge of the last bin).
    public var maxBits: Double
    /// Tokens per fine bin [bins].
    public var counts: [Int]
    /// Tokens with a finite entropy (the counts' sum).
    public var tokens: Int
    /// Tokens whose entropy is not finite (left out of the counts).
    public var nonFinite: Int
    /// Mean entropy of the counted tokens (bits; NaN without any).
    public var mean: Double

    /// The histogram of `entropyBits` for a router over `experts` experts; values outside
    /// [0, log2 E] (rounding) go to the end bins.
    public init(entropyBits: [Float], experts: Int) {
        maxBits = experts > 1 ? Foundation.log2(Double(experts)) : 1
        counts = Array(repeating: 0, count: Self.bins)
        tokens = 0
        nonFinite = 0
        var sum = 0.0
        for value in entropyBits {
            let v = Double(value)
            guard v.isFinite else {
                nonFinite += 1
                continue
            }
            let bin = Int(v / maxBits * Double(Self.bins))
            counts[min(max(bin, 0), Self.bins - 1)] += 1
            tokens += 1
            sum += v
        }
        mean = tokens > 0 ? sum / Double(tokens) : .nan
    }

    /// The histogram of an analysed layer.
    public init(_ la: LayerAnalysis) { self.init(entropyBits: la.entropy, experts: la.experts) }

    /// Shares of the tokens in `count` equal bins (the fine bins merged; `count` is rounded down to a
    /// divisor of `bins`, at least 1).
    public func shares(bins count: Int) -> [Double] {
        let n = Self.divisor(atMost: count)
        let per = Self.bins / n
        return (0..<n).map { b in
            let c = counts[(b * per)..<((b + 1) * per)].reduce(0, +)
            return tokens > 0 ? Double(c) / Double(tokens) : 0
        }
    }

    /// The largest divisor of `bins` that is at most `count` (1 for anything below 1).
    public static func divisor(atMost count: Int) -> Int {
        (1...bins).last { bins % $0 == 0 && $0 <= max(1, count) } ?? 1
    }
}
