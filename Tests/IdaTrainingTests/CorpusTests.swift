import Foundation
import IdaTestSupport
import Testing
@testable import IdaTraining

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
}
