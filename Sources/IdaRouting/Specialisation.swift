import IdaNumerics

/// What each layer's first-choice expert says about a token: the mutual information between the expert
/// and the token's domain, the token itself and the token before it (in the same document), over a
/// probe, with a chance level from the same labels shuffled (a fixed permutation), since the plug-in
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
        var labels: [Label: [Int32]] = [.token: probe.tokenIDs()]
        if let domains = probe.domainIDs() { labels[.domain] = domains }
        var previous = [Int32](repeating: -1, count: probe.count)
        for n in probe.tokens.indices.dropFirst() where probe.documents.map({ $0[n] == $0[n - 1] }) ?? true {
            previous[n] = probe.tokens[n - 1]
        }
        labels[.previousToken] = previous
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

    /// Counts the tokens `rows` with their routings (one per layer, in slot order).
    public mutating func add(rows: Range<Int>, results: [RoutingResult]) {
        for (slot, result) in results.enumerated() {
            let k = result.topK
            for (label, values) in labels {
                let mixed = shuffled[label] ?? values
                for (offset, n) in rows.enumerated() {
                    let expert = Int(result.selected[offset * k])
                    tables[slot][label]?.add(label: values[n], expert: expert)
                    chance[slot][label]?.add(label: mixed[n], expert: expert)
                }
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
