import IdaNumerics

extension BenchRenderFixture {
    /// Text-like probe bytes: short documents as in the fortunes corpus (a few wrapped lines of prose,
    /// sometimes code or an indented attribution), each from one domain.
    public struct ProbeText {
        /// Byte tokens [N].
        var tokens: [Int32] = []
        /// Domain of each token [N].
        var domains: [Int32] = []
        /// Document of each token [N].
        var documents: [Int32] = []

        /// Words each domain draws from.
        static let words: [[String]] = [
            ["the", "program", "compiler", "bug", "kernel", "memory", "pointer", "null", "system", "user", "file",
             "Unix", "byte", "debug", "code", "never", "works", "always", "machine", "cache", "thread", "lock"],
            ["the", "heart", "night", "love", "she", "he", "said", "was", "river", "old", "king", "of", "and",
             "sorrow", "a", "light", "whispered", "beneath", "stars", "dream", "forgotten", "door"],
            ["the", "energy", "electron", "theory", "light", "mass", "field", "equals", "universe", "measured",
             "quantum", "observer", "entropy", "of", "a", "law", "experiment", "particle", "wave", "is"],
            ["the", "man", "who", "wise", "never", "always", "fool", "time", "money", "is", "a", "friend",
             "truth", "know", "nothing", "give", "life", "you", "will", "patience", "day", "learn"],
        ]
        /// Lines of code the computers domain mixes in (tabs included).
        static let code = ["\tif (p == NULL) return -1;", "\tfor (i = 0; i < n; i++) sum += a[i];",
                           "#include <stdio.h>", "\twhile (1) fork();", "$ rm -rf / --no-preserve-root"]
        /// Attributions that end some documents.
        static let authors = ["Mark Twain", "Oscar Wilde", "R. Feynman", "Anonymous", "Ambrose Bierce", "K. Thompson"]

        /// About `n` tokens of documents from `domainCount` domains, deterministic in `seed`.
        init(tokens n: Int, domains domainCount: Int, seed: UInt64) {
            var rng = SeededGenerator(seed: seed &+ 7)
            var document: Int32 = 0
            while tokens.count < n {
                let domain = Int(rng.next() % UInt64(max(1, domainCount)))
                let text = Self.document(domain: domain % Self.words.count, rng: &rng)
                for byte in text.utf8 where tokens.count < n {
                    tokens.append(Int32(byte))
                    domains.append(Int32(domain))
                    documents.append(document)
                }
                document += 1
            }
        }

        /// One document: 1-6 lines of 30-72 columns, sometimes code, sometimes an attribution.
        static func document(domain: Int, rng: inout SeededGenerator) -> String {
            let list = words[domain]
            var text = ""
            for _ in 0..<(1 + Int(rng.next() % 6)) {
                if domain == 0 && rng.unitDouble() < 0.25 {
                    text += code[Int(rng.next() % UInt64(code.count))] + "\n"
                    continue
                }
                let width = 30 + Int(rng.next() % 43)
                var line = ""
                var sentenceStart = text.isEmpty
                while line.count < width {
                    var word = list[Int(rng.next() % UInt64(list.count))]
                    if sentenceStart { word = word.prefix(1).uppercased() + word.dropFirst() }
                    sentenceStart = rng.unitDouble() < 0.12
                    line += (line.isEmpty ? "" : " ") + word + (sentenceStart ? "." : rng.unitDouble() < 0.08 ? "," : "")
                }
                text += line + "\n"
            }
            if rng.unitDouble() < 0.4 { text += "\t\t-- " + authors[Int(rng.next() % UInt64(authors.count))] + "\n" }
            return text
        }

        /// Router inputs [N, D] per MoE block: a domain centre, the byte's embedding, a share of the
        /// previous byte's, and noise, so that tokens cluster by domain and by byte as real ones do.
        func hiddenStates(layers: [Int], width d: Int, seed: UInt64) -> [Int: Matrix] {
            var out: [Int: Matrix] = [:]
            for layer in layers {
                var rows = hiddenRows(layer: layer, width: d, seed: seed)
                out[layer] = Matrix(rows: tokens.count, cols: d, data: rows.next(tokens.count) ?? [])
            }
            return out
        }

        /// The same rows as `hiddenStates` for one layer, produced block by block (for probes larger
        /// than memory: `idamoe bench synth`).
        func hiddenRows(layer: Int, width d: Int, seed: UInt64) -> HiddenRows {
            var rng = SeededGenerator(seed: seed &+ UInt64(1000 + layer))
            let domainCount = Int(domains.max() ?? 0) + 1
            let centres = (0..<(domainCount * d)).map { _ in rng.normal() * 1.2 }  // [domains, D]
            let embedding = (0..<(256 * d)).map { _ in rng.normal() * 0.8 }  // [256, D]
            return HiddenRows(text: self, width: d, rng: rng, centres: centres, embedding: embedding)
        }
    }

    /// Consecutive rows of one layer's synthetic router inputs.
    public struct HiddenRows {
        let text: ProbeText
        let width: Int
        var rng: SeededGenerator
        let centres: [Float], embedding: [Float]
        var position = 0

        init(text: ProbeText, width: Int, rng: SeededGenerator, centres: [Float], embedding: [Float]) {
            self.text = text
            self.width = width
            self.rng = rng
            self.centres = centres
            self.embedding = embedding
        }

        /// The next `count` rows (fewer at the end), row-major; nil once every token has its row.
        mutating func next(_ count: Int) -> [Float]? {
            let n = text.tokens.count, d = width
            guard position < n else { return nil }
            let rows = min(count, n - position)
            var out = [Float](repeating: 0, count: rows * d)
            out.withUnsafeMutableBufferPointer { p in
                for r in 0..<rows {
                    let i = position + r
                    let c = Int(text.domains[i]) * d, b = Int(text.tokens[i] & 0xFF) * d
                    let previous = Int(text.tokens[max(0, i - 1)] & 0xFF) * d
                    for j in 0..<d {
                        p[r * d + j] = centres[c + j] + embedding[b + j] + 0.4 * embedding[previous + j] + 0.4 * rng.normal()
                    }
                }
            }
            position += rows
            return out
        }
    }
}
