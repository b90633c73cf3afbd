import IdaRouting
/// Properties of probe tokens that an expert choice may depend on, beyond the token itself: its
/// character class and its position in the word it belongs to. Both come from the token's text
/// (`Vocabulary.text(of:)` for string vocabularies, the byte for byte-level ones), so they mean the
/// same for a fortunes byte model and a captured subword model.
public enum TokenLabels {
    /// The class of a token's first character (after a subword tokenizer's leading-space marker).
    public enum CharacterClass: Int32, CaseIterable, Sendable {
        case space = 0, lineBreak, lowercase, uppercase, digit, punctuation, other

        /// The name shown in tables and panels.
        public var name: String {
            switch self {
            case .space: return "space"
            case .lineBreak: return "line break/tab"
            case .lowercase: return "lowercase"
            case .uppercase: return "uppercase"
            case .digit: return "digit"
            case .punctuation: return "punctuation"
            case .other: return "other"
            }
        }

        /// A short name for narrow panels.
        public var shortName: String {
            switch self {
            case .space: return "space"
            case .lineBreak: return "break"
            case .lowercase: return "lower"
            case .uppercase: return "upper"
            case .digit: return "digit"
            case .punctuation: return "punct"
            case .other: return "other"
            }
        }

        /// Letters and digits: the characters a word is made of.
        public var isWordCharacter: Bool { self == .lowercase || self == .uppercase || self == .digit }

        /// The class of one byte (byte-level vocabularies).
        public init(byte b: UInt8) {
            switch b {
            case 0x20: self = .space
            case 0x09, 0x0A, 0x0D: self = .lineBreak
            case 0x61...0x7A: self = .lowercase
            case 0x41...0x5A: self = .uppercase
            case 0x30...0x39: self = .digit
            case 0x21...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E: self = .punctuation
            default: self = .other
            }
        }

        /// The class of a character.
        public init(_ c: Character) {
            if c == " " { self = .space } else if c.isNewline || c == "\t" { self = .lineBreak } else if c.isWhitespace { self = .space } else if c.isLowercase { self = .lowercase } else if c.isUppercase { self = .uppercase } else if c.isNumber { self = .digit } else if c.isPunctuation || c.isSymbol { self = .punctuation } else if c.isLetter { self = .lowercase } else { self = .other }
        }
    }

    /// Positions in a word are counted up to this; later ones share it ("6+").
    public static let longestWordPosition: Int32 = 6

    /// Leading markers subword tokenizers use for "starts after a space" (GPT-2's Ġ, SentencePiece's ▁).
    static let spaceMarkers: Set<Character> = [" ", "Ġ", "▁"]

    /// One token's class, and whether its text starts a new word (a leading space or marker).
    static func describe(_ token: Int32, vocabulary: Vocabulary) -> (CharacterClass, startsWord: Bool) {
        switch vocabulary {
        case .bytes:
            return (CharacterClass(byte: UInt8(truncatingIfNeeded: token)), false)
        case let .strings(list):
            guard token >= 0 && Int(token) < list.count else { return (.other, false) }
            let text = list[Int(token)]
            let rest = text.drop { spaceMarkers.contains($0) }
            guard let first = rest.first else { return (text.isEmpty ? .other : .space, false) }
            return (CharacterClass(first), rest.count < text.count)
        }
    }

    /// Each token's character class.
    public static func characterClasses(_ tokens: [Int32], vocabulary: Vocabulary) -> [Int32] {
        tokens.map { describe($0, vocabulary: vocabulary).0.rawValue }
    }

    /// Each token's position in its word: 0 for a token that is not part of a word (space,
    /// punctuation, line break), else 1 for the word's first token, 2 for the next, ... up to
    /// `longestWordPosition`. A word ends at any non-word token, at a token with a leading space
    /// marker and at a document boundary (`documents`, when given).
    public static func wordPositions(_ tokens: [Int32], vocabulary: Vocabulary, documents: [Int32]? = nil) -> [Int32] {
        var out = [Int32](repeating: 0, count: tokens.count)
        var previous: Int32 = 0
        for (n, token) in tokens.enumerated() {
            let (kind, startsWord) = describe(token, vocabulary: vocabulary)
            let sameDocument = n > 0 && documents.map { $0[n] == $0[n - 1] } ?? (n > 0)
            if !kind.isWordCharacter {
                previous = 0
            } else if startsWord || !sameDocument || previous == 0 {
                previous = 1
            } else {
                previous = min(previous + 1, longestWordPosition)
            }
            out[n] = previous
        }
        return out
    }
}
