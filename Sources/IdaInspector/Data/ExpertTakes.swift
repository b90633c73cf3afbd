import IdaNumerics
import IdaAnalysis
import IdaRouting

/// What each expert of one layer takes as first choice over the probe: its commonest tokens and
/// character class, and how much of the expert choice each token label explains (I / H(expert), the
/// figures of `idamoe route --specialisation`). The Layer screen's `t` panel draws it.
struct ExpertTakes: Sendable, Equatable {
    /// One expert's first choices.
    struct Expert: Sendable, Equatable {
        /// Tokens whose first choice it is.
        var tokens = 0
        /// Its commonest tokens, most first (ties: lower id), with their share of its tokens.
        var top: [(token: Int32, share: Double)] = []
        /// Its most over-represented character class among those with at least 5% of its tokens: the
        /// class, its share of the expert's tokens and that share over the class's share of all tokens.
        var topClass: (TokenLabels.CharacterClass, share: Double, lift: Double)?

        static func == (a: Expert, b: Expert) -> Bool {
            a.tokens == b.tokens && a.top.elementsEqual(b.top) { $0.token == $1.token && $0.share == $1.share }
                && a.topClass?.0 == b.topClass?.0 && a.topClass?.share == b.topClass?.share
                && a.topClass?.lift == b.topClass?.lift
        }
    }

    /// Per expert id.
    var experts: [Expert]
    /// I(label; first expert) / H(first expert) for the labels the probe has, in `Specialisation.Label` order.
    var explained: [(label: Specialisation.Label, normalized: Double)]
    /// Tokens counted.
    var total: Int

    static func == (a: ExpertTakes, b: ExpertTakes) -> Bool {
        a.experts == b.experts && a.total == b.total
            && a.explained.elementsEqual(b.explained) { $0.label == $1.label && $0.normalized == $1.normalized }
    }

    /// From a layer's first choices (`selected` [N, topK]) and the probe's tokens (and domains).
    init(selected: [Int32], topK: Int, experts e: Int, tokens: [Int32], domains: [Int32]?,
         vocabulary: Vocabulary, keep: Int = 4) {
        let n = min(tokens.count, topK > 0 ? selected.count / topK : 0)
        let tokens = Array(tokens.prefix(n))
        let labels = Specialisation.labels(tokens: tokens, domains: domains.map { Array($0.prefix(n)) },
                                           documents: nil, vocabulary: vocabulary)
        var tables = [Specialisation.Label: LabelExpertCounts]()
        for label in labels.keys { tables[label] = LabelExpertCounts(experts: e) }
        let first = (0..<n).map { selected[$0 * topK] }
        for (label, values) in labels { tables[label]?.add(labels: values[...], choices: first[...]) }
        // Per expert: counts of its tokens and classes, from the same tables.
        var list = [Expert](repeating: Expert(), count: e)
        if let byToken = tables[.token] {
            for x in 0..<e {
                let counted = byToken.counts.compactMap { token, row in row[x] > 0 ? (token, row[x]) : nil }
                let total = counted.reduce(0) { $0 + $1.1 }
                list[x].tokens = Int(total)
                guard total > 0 else { continue }
                list[x].top = counted.sorted { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
                    .prefix(keep).map { ($0.0, $0.1 / total) }
                if let byClass = tables[.characterClass] {
                    // (class, share in this expert, lift over the class's share of all tokens)
                    let candidates = byClass.counts.compactMap { c, row -> (Int32, Double, Double)? in
                        let share = row[x] / total, overall = row.reduce(0, +) / Double(n)
                        return share >= 0.05 && overall > 0 ? (c, share, share / overall) : nil
                    }
                    let best = candidates.max { $0.2 < $1.2 || ($0.2 == $1.2 && $0.0 > $1.0) }
                    if let best, let kind = TokenLabels.CharacterClass(rawValue: best.0) {
                        list[x].topClass = (kind, best.1, best.2)
                    }
                }
            }
        }
        experts = list
        explained = Specialisation.Label.allCases.compactMap { label in
            tables[label].map { (label, $0.normalizedMutualInformation) }
        }
        total = n
    }
}
