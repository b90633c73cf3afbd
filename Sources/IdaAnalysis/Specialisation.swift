import IdaRouting
import IdaNumerics

/// What each layer's first-choice expert says about a token: the mutual information between the expert
/// and the token's domain, the token itself, the token before it (in the same document), the token's
/// character class and its position in its word (`TokenLabels`), over a probe, with a chance level from the same labels shuffled (a fixed permutation), since the plug-in
/// estimate is biased upward for labels with many values and few tokens.
public struct Specialisation: Sendable {
    /// A token property the expert choice may depend on.
    public enum Label: String, CaseIterable, Sendable {
        /// The probe's domain of the token (needs the probe's `domains`).
        case domain
        /// The token (a byte for byte-level models).
        case token
        /// The token before it in the same document (a start marker for the first).
        case previousToken = "previous token"
        /// The class of the token's first character (`TokenLabels.CharacterClass`).
        case characterClass = "character class"
        /// The token's position in its word (`TokenLabels.wordPositions`).
        case wordPosition = "position in word"
    }

    /// One layer's figures for one label.
    public struct Figure: Sendable, Equatable {
        /// I(label; first expert) in bits.
        public var bits: Double
        /// I / H(first expert).
        public var normalized: Double
        /// I with the labels shuffled across tokens: what chance alone gives at this sample size.
        public var chanceBits: Double
    }

    /// Labels per token, for every label the probe supports.
    let labels: [Label: [Int32]]
    /// The same labels under one fixed permutation of the tokens.
    let shuffled: [Label: [Int32]]
    /// MoE layers in routing slot order.
    public let layers: [Int]
    var tables: [[Label: LabelExpertCounts]]
    var chance: [[Label: LabelExpertCounts]]

    /// Labels from `probe` for `layers` (slot order of the routing) with `experts` per layer.
    public init(probe: Probe, layers: [Int], experts: [Int], seed: UInt64 = 1) {
        let labels = Self.labels(tokens: probe.tokenIDs(), domains: probe.domainIDs(),
                                 documents: probe.documents.map(Probe.copied), vocabulary: probe.vocabulary)
        // Fisher-Yates with the package's seeded generator: the same chance level on every run.
        var order = Array(0..<probe.count)
        var rng = SeededGenerator(seed: seed)
        if order.count > 1 {
            for i in stride(from: order.count - 1, to: 0, by: -1) {
                order.swapAt(i, Int(rng.next() % UInt64(i + 1)))
            }
        }
        self.labels = labels
        self.shuffled = labels.mapValues { values in order.map { values[$0] } }
        self.layers = layers
        let empty = { (e: Int) in Dictionary(uniqueKeysWithValues: labels.keys.map { ($0, LabelExpertCounts(experts: e)) }) }
        self.tables = experts.map(empty)
        self.chance = experts.map(empty)
    }

    /// Every label of every token: the token itself, its domain (when `domains` is given), the token
    /// before it in the same document (-1 for a document's first; documents unknown: the probe is one
    /// document), its character class and its position in its word.
    public static func labels(tokens: [Int32], domains: [Int32]?, documents: [Int32]?,
                              vocabulary: Vocabulary) -> [Label: [Int32]] {
        var labels: [Label: [Int32]] = [.token: tokens]
        if let domains { labels[.domain] = domains }
        var previous = [Int32](repeating: -1, count: tokens.count)
        for n in tokens.indices.dropFirst() where documents.map({ $0[n] == $0[n - 1] }) ?? true {
            previous[n] = tokens[n - 1]
        }
        labels[.previousToken] = previous
        labels[.characterClass] = TokenLabels.characterClasses(tokens, vocabulary: vocabulary)
        labels[.wordPosition] = TokenLabels.wordPositions(tokens, vocabulary: vocabulary, documents: documents)
        return labels
    }

    /// Counts the tokens `rows` with their routings (one per layer, in slot order).
    public mutating func add(rows: Range<Int>, results: [RoutingResult]) {
        for (slot, result) in results.enumerated() {
            let k = result.topK
            let first = (0..<rows.count).map { result.selected[$0 * k] }
            for (label, values) in labels {
                let mixed = shuffled[label] ?? values
                tables[slot][label]?.add(labels: values[rows], choices: first[...])
                chance[slot][label]?.add(labels: mixed[rows], choices: first[...])
            }
        }
    }

    /// The figures of `label` at routing slot `slot`, or nil when the probe lacks that label.
    public func figure(slot: Int, label: Label) -> Figure? {
        guard let table = tables[slot][label], let baseline = chance[slot][label] else { return nil }
        return Figure(bits: table.mutualInformationBits, normalized: table.normalizedMutualInformation,
                      chanceBits: baseline.mutualInformationBits)
    }
}
