import Foundation
import IdaTestSupport
import Testing
@testable import IdaTraining
import IdaRouting

@Suite("Corpus and dataset")
struct CorpusTests {
    @Test("fortune files split at % lines; .dat files, binary files and links to read files are skipped")
    func splitting() throws {
        let dir = temporaryDirectory()
        try "one\nline\n%\ntwo\n%\n\n%\nthree\n".write(toFile: dir + "/a", atomically: true, encoding: .utf8)
        try Data([0x00, 0x01, 0x02]).write(to: URL(fileURLWithPath: dir + "/a.dat"))
        try Data([0x41, 0x00, 0x42]).write(to: URL(fileURLWithPath: dir + "/binary"))
        try FileManager.default.createSymbolicLink(atPath: dir + "/a.u8", withDestinationPath: "a")
        try "para one\nstill one\n\npara two\n".write(toFile: dir + "/b", atomically: true, encoding: .utf8)
        let corpus = try Corpus(paths: [dir])
        #expect(corpus.domains.map(\.name) == ["a", "b"])
        #expect(corpus.domains[0].documents.map { String(decoding: $0, as: UTF8.self) } == ["one\nline\n", "two\n", "three\n"])
        #expect(corpus.domains[1].documents.count == 2)
    }

    @Test("a missing corpus says how to install one")
    func missing() {
        #expect(throws: TrainingError.corpusMissing(paths: ["/nonexistent/x"])) { try Corpus(paths: ["/nonexistent/x"]) }
        let text = TrainingError.corpusMissing(paths: ["/x"]).description
        #expect(text.contains("apt-get install fortunes") && text.contains("--corpus"))
    }

    @Test("the split is deterministic, by document, and every domain validates and probes")
    func split() throws {
        let corpus = try Corpus(paths: [writeCorpus(in: temporaryDirectory())])
        let a = Dataset(corpus: corpus, validationShare: 0.2, seed: 4)
        let b = Dataset(corpus: corpus, validationShare: 0.2, seed: 4)
        #expect(a.train == b.train && a.validation == b.validation)
        #expect(a.validation.allSatisfy { !$0.tokens.isEmpty })
        #expect(Set(a.probe.domains) == Set([0, 1, 2]))
        let trainDocs = Set(a.train.documents), valDocs = Set(a.validation.flatMap(\.documents))
        #expect(trainDocs.isDisjoint(with: valDocs))
        #expect(trainDocs.count + valDocs.count == 120)
        let c = Dataset(corpus: corpus, validationShare: 0.2, seed: 5)
        #expect(c.validation != a.validation)
    }

    @Test("a held-out domain gives no training text but keeps its validation and probe text; the rest is unchanged")
    func heldOut() throws {
        let corpus = try Corpus(paths: [writeCorpus(in: temporaryDirectory())])
        let all = Dataset(corpus: corpus, validationShare: 0.2, seed: 4)
        let some = Dataset(corpus: corpus, validationShare: 0.2, seed: 4, heldOut: [1])
        #expect(!some.train.domains.contains(1) && all.train.domains.contains(1))
        #expect(some.validation == all.validation && some.probe == all.probe)
        #expect(some.train.tokens.count == all.train.tokens.count - all.train.domains.filter { $0 == 1 }.count)
        #expect(some.heldOut == [1])
    }

    @Test("the probe belongs to the corpus: every seed holds the same probe text, never trained on")
    func probeByCorpus() throws {
        let corpus = try Corpus(paths: [writeCorpus(in: temporaryDirectory())])
        let sets = (1...6).map { Dataset(corpus: corpus, validationShare: 0.2, seed: UInt64($0)) }
        for d in sets {
            #expect(d.probe == sets[0].probe, "the same tokens, domains and documents for every seed")
            #expect(Set(d.train.documents).isDisjoint(with: Set(d.probe.documents)), "probe documents are never trained on")
            #expect(Set(d.validation.flatMap(\.documents)).isSuperset(of: Set(d.probe.documents)))
        }
        #expect(sets[0].validation != sets[1].validation, "the rest of the split stays seeded")
        #expect(Set(sets[0].probe.domains) == Set([0, 1, 2]))
        // Each domain gives at least 64 bytes (or all but one of its documents), whole documents cut to T.
        for d in 0..<3 {
            let bytes = sets[0].probe.domains.filter { $0 == d }.count
            #expect(bytes >= 64, "domain \(d): \(bytes) probe bytes")
        }
        // The rule follows the text, not the files' order or the seed: reordering a domain's documents
        // picks the same documents.
        var shuffled = corpus
        shuffled.domains[0].documents.reverse()
        let reordered = Dataset(corpus: shuffled, validationShare: 0.2, seed: 1)
        let texts = { (d: Dataset) in Set(Dictionary(grouping: d.probe.tokens.indices.filter { d.probe.domains[$0] == 0 },
                                                      by: { d.probe.documents[$0] }).values.map { $0.map { d.probe.tokens[$0] } }) }
        #expect(texts(reordered) == texts(sets[0]))
    }

    @Test("runs written before the corpus rule keep their seeded probe (and so resume exactly)")
    func seededProbe() throws {
        let corpus = try Corpus(paths: [writeCorpus(in: temporaryDirectory())])
        let a = Dataset(corpus: corpus, validationShare: 0.2, seed: 4, probeRule: .seeded)
        let b = Dataset(corpus: corpus, validationShare: 0.2, seed: 5, probeRule: .seeded)
        #expect(a.probe != b.probe, "seeded probes differ by seed, as before the corpus rule")
        // The seeded probe is the leading validation documents of each domain, 64 bytes' worth.
        for (d, stream) in a.validation.enumerated() {
            let probe = a.probe.tokens.indices.filter { a.probe.domains[$0] == Int32(d) }.map { a.probe.documents[$0] }
            #expect(Set(probe).isSubset(of: Set(stream.documents)))
            #expect(probe.first == stream.documents.first)
        }
        var options = TrainingOptions()
        #expect(options.probeRule == .corpus)
        let old = try JSONDecoder().decode(TrainingOptions.self, from: JSONEncoder().encode(options).replacingProbeRule())
        #expect(old.probeRule == nil, "absent in old run.json files")
        options.probeRule = .seeded
        #expect(try JSONDecoder().decode(TrainingOptions.self, from: JSONEncoder().encode(options)).probeRule == .seeded)
    }
}

private extension Data {
    /// This JSON object without its "probeRule" key (a run.json of a run before the corpus rule).
    func replacingProbeRule() throws -> Data {
        var object = try JSONSerialization.jsonObject(with: self) as? [String: Any] ?? [:]
        object["probeRule"] = nil
        return try JSONSerialization.data(withJSONObject: object)
    }
}
