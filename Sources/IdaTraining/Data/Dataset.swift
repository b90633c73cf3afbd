import IdaNumerics
import IdaRouting

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
    /// The probe takes up to `probeBytesPerDomain` bytes of each domain's documents, each cut to
    /// `maxDocument` bytes: under `.corpus` the documents with the smallest content hash (the same for
    /// every seed) and always held out of training; under `.seeded` the leading validation documents.
    /// Domains in `heldOut` (indices) give no training text at all: their validation documents and
    /// probe bytes are chosen as for every domain, so the probe holds text the model never saw.
    public init(corpus: Corpus, validationShare: Double = 0.1, seed: UInt64 = 0,
                probeBytesPerDomain: Int = 64, maxDocument: Int = 128, heldOut: Set<Int> = [],
                probeRule: TrainingOptions.ProbeRule = .corpus) {
        var train = Stream()
        var validation: [Stream] = []
        var probe = Stream()
        var documentID = 0
        for (d, domain) in corpus.domains.enumerated() {
            var isValidation = domain.documents.indices.map { index -> Bool in
                var rng = SeededGenerator(seed: seed ^ (UInt64(d) << 32) ^ UInt64(index) &* 0x9E37_79B9)
                return rng.unitDouble() < validationShare
            }
            let chosen = probeRule == .corpus
                ? Self.corpusProbe(domain.documents, bytes: probeBytesPerDomain, maxDocument: maxDocument) : []
            for index in chosen { isValidation[index] = true }
            if domain.documents.count >= 2 {
                if !isValidation.contains(true) { isValidation[isValidation.count - 1] = true }
                if !isValidation.contains(false), let free = isValidation.indices.first(where: { !chosen.contains($0) }) {
                    isValidation[free] = false
                }
            }
            var stream = Stream()
            var probeBytes = 0
            for (index, doc) in domain.documents.enumerated() {
                if isValidation[index] {
                    stream.append(doc, domain: d, document: documentID)
                    let inProbe = probeRule == .corpus ? chosen.contains(index) : probeBytes < probeBytesPerDomain
                    if inProbe {
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

extension Dataset {
    /// The probe documents of one domain under `.corpus`: indices in ascending order of a 64-bit
    /// FNV-1a hash of each document's bytes (ties by index), taken while fewer than `bytes` bytes
    /// (each document cut to `maxDocument`) are taken, and never every document of a domain of two or
    /// more (one is left to train on). A domain of one document gives none. Depends on the text alone.
    static func corpusProbe(_ documents: [[UInt8]], bytes: Int, maxDocument: Int) -> Set<Int> {
        guard documents.count >= 2 else { return [] }
        let ranked = documents.indices.sorted { i, j in
            let (a, b) = (fnv1a(documents[i]), fnv1a(documents[j]))
            return a != b ? a < b : i < j
        }
        var chosen = Set<Int>()
        var taken = 0
        for index in ranked where taken < bytes && chosen.count < documents.count - 1 {
            chosen.insert(index)
            taken += min(documents[index].count, maxDocument)
        }
        return chosen
    }

    /// 64-bit FNV-1a of `bytes`.
    static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes {
            hash ^= UInt64(b)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
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
