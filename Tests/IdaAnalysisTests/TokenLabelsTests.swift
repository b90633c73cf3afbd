import Testing
import IdaNumerics
@testable import IdaAnalysis
import IdaRouting

@Suite("Token labels: character class and position in word")
struct TokenLabelsTests {
    static func bytes(_ text: String) -> [Int32] { text.utf8.map { Int32($0) } }

    @Test("bytes: every class, and positions restart after a non-word byte and at a document boundary")
    func byteLabels() {
        let tokens = Self.bytes("Hi 42,\tyou!\né\n")
        let classes = TokenLabels.characterClasses(tokens, vocabulary: .bytes).map { TokenLabels.CharacterClass(rawValue: $0) }
        #expect(classes == [.uppercase, .lowercase, .space, .digit, .digit, .punctuation, .lineBreak,
                            .lowercase, .lowercase, .lowercase, .punctuation, .lineBreak, .other, .other, .lineBreak])
        #expect(TokenLabels.wordPositions(tokens, vocabulary: .bytes) == [1, 2, 0, 1, 2, 0, 0, 1, 2, 3, 0, 0, 0, 0, 0])
        // "abcdefgh" is one word: positions cap at 6; a document boundary before "g" starts a new word.
        let word = Self.bytes("abcdefgh")
        #expect(TokenLabels.wordPositions(word, vocabulary: .bytes) == [1, 2, 3, 4, 5, 6, 6, 6])
        #expect(TokenLabels.wordPositions(word, vocabulary: .bytes, documents: [0, 0, 0, 0, 0, 0, 1, 1])
                == [1, 2, 3, 4, 5, 6, 1, 2])
    }

    @Test("subword strings: a leading space marker starts a word; the class is the first character's after it")
    func stringLabels() {
        let vocabulary = Vocabulary.strings(["Ġthe", "re", "Ġ", "▁Paris", ",", "12", "ing", "", "\n"])
        let tokens: [Int32] = [0, 1, 2, 3, 6, 4, 5, 6, 7, 8, 42]
        let classes = TokenLabels.characterClasses(tokens, vocabulary: vocabulary).map { TokenLabels.CharacterClass(rawValue: $0) }
        #expect(classes == [.lowercase, .lowercase, .space, .uppercase, .lowercase, .punctuation, .digit, .lowercase,
                            .other, .lineBreak, .other])
        #expect(TokenLabels.wordPositions(tokens, vocabulary: vocabulary) == [1, 2, 0, 1, 2, 0, 1, 2, 0, 0, 0])
    }

    @Test("Specialisation.labels: previous token within a document, -1 at each start; domains only when given")
    func labels() {
        let tokens = Self.bytes("ab c")
        let without = Specialisation.labels(tokens: tokens, domains: nil, documents: [0, 0, 1, 1], vocabulary: .bytes)
        #expect(without[.domain] == nil)
        #expect(without[.previousToken] == [-1, 97, -1, 32])
        #expect(without[.wordPosition] == [1, 2, 0, 1])
        let with = Specialisation.labels(tokens: tokens, domains: [3, 3, 4, 4], documents: nil, vocabulary: .bytes)
        #expect(with[.domain] == [3, 3, 4, 4] && with[.previousToken] == [-1, 97, 98, 32])
        #expect(Set(with.keys) == Set(Specialisation.Label.allCases))
    }
}
