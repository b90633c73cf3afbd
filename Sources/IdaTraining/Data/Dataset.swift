import IdaNumerics

/// A corpus split by document into training and validation byte streams, with the probe documents.
public struct Dataset: Sendable {
    /// Bytes with the domain and document of each byte.
    public struct Stream: Sendable, Equatable {
        /// Token ids (bytes) [N].
        public var tokens: [UInt8] = []
        /// Domain of each byte [N].
        public var domains: [Int32] = []
        /// Global document index of each byte [N].
        public var documents: [Int32] = []

        /// Appends one document (and a `%` line after it, as in the source files).
        mutating func append(_ bytes: [UInt8], domain: Int, document: Int) {
            var doc = bytes
            if doc.last != 0x0A { doc.append(0x0A) }
            doc += [0x25, 0x0A]
            tokens += doc
            domains += [Int32](repeating: Int32(domain), count: doc.count)
            documents += [Int32](repeating: Int32(document), count: doc.count)
        }
    }

    /// Domain names, indexed by domain id.
    public let domainNames: [String]
    /// All training documents, concatenated.
    public let train: Stream
    /// Validation documents of each domain, concatenated per domain.
    public let validation: [Stream]
    /// Domains (indices) that gave no training text.
    public let heldOut: Set<Int>
    /// The fixed probe: leading validation documents of every domain, each cut to `maxDocument` bytes.
    public let probe: Stream

    /// Splits deterministically: a document goes to validation when a hash of (seed, domain, index)
    /// falls below `validationShare`; every domain with two or more documents keeps at least one of each.
    /// Domains in `heldOut` (indices) give no training text at all: their validation documents and
    /// probe bytes are chosen as for every domain, so the probe holds text the model never saw.
    public init(corpus: Corpus, validationShare: Double = 0.1, seed: UInt64 = 0,
                probeBytesPerDomain: Int = 64, maxDocument: Int = 128, heldOut: Set<Int> = []) {
        var train = Stream()
        var validation: [Stream] = []
        var probe = Stream()
        var documentID = 0
        for (d, domain) in corpus.domains.enumerated() {
            var isValidation = domain.documents.indices.map { index -> Bool in
                var rng = SeededGenerator(seed: seed ^ (UInt64(d) << 32) ^ UInt64(index) &* 0x9E37_79B9)
                return rng.unitDouble() < validationShare
            }
            if domain.documents.count >= 2 {
                if !isValidation.contains(true) { isValidation[isValidation.count - 1] = true }
                if !isValidation.contains(false) { isValidation[0] = false }
            }
            var stream = Stream()
            var probeBytes = 0
            for (index, doc) in domain.documents.enumerated() {
                if isValidation[index] {
                    stream.append(doc, domain: d, document: documentID)
                    if probeBytes < probeBytesPerDomain {
                        let cut = Array(doc.prefix(maxDocument))
                        probe.append(cut, domain: d, document: documentID)
                        probeBytes += cut.count
                    }
                } else if !heldOut.contains(d) {
                    train.append(doc, domain: d, document: documentID)
                }
                documentID += 1
            }
            validation.append(stream)
        }
        self.domainNames = corpus.domains.map(\.name)
        self.train = train
        self.validation = validation
        self.probe = probe
        self.heldOut = heldOut
    }
}

/// Draws training windows of T + 1 bytes uniformly from the training stream.
public struct BatchSampler: Sendable, Equatable {
    /// The generator; saved with snapshots so a resumed run draws the same batches.
    public var rng: SeededGenerator

    /// A sampler seeded with `seed`.
    public init(seed: UInt64) { rng = SeededGenerator(seed: seed ^ 0xBA7C_4E55) }

    /// B windows of length T: inputs [B*T] and next-byte targets [B*T].
    public mutating func next(from stream: Dataset.Stream, batch: Int, time: Int) -> (inputs: [Int32], targets: [Int32]) {
        let span = stream.tokens.count - time - 1
        precondition(span > 0, "training stream shorter than one window")
        var inputs = [Int32](repeating: 0, count: batch * time)
        var targets = inputs
        for b in 0..<batch {
            let start = Int(rng.next() % UInt64(span))
            for t in 0..<time {
                inputs[b * time + t] = Int32(stream.tokens[start + t])
                targets[b * time + t] = Int32(stream.tokens[start + t + 1])
            }
        }
        return (inputs, targets)
    }
}
