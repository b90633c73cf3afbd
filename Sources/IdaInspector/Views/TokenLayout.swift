import IdaFormats
import IdaRouting
import IdaTerminal

/// Where every probe token sits when the text is laid out in lines of `width` columns: newline
/// tokens end a line (shown as a marker), words wrap whole when they fit on a fresh line, and
/// non-printable tokens are shown escaped. Shared by the tokens screen and mouse hit-testing.
public struct TokenLayout: Sendable, Equatable {
    /// One token's place: line, first column, columns taken, and the text drawn there.
    public struct Slot: Sendable, Equatable {
        /// Line index, 0 at the top of the text.
        public var line: Int
        /// First column within the line.
        public var column: Int
        /// Columns taken (at least 1).
        public var width: Int
        /// What is drawn.
        public var text: String
    }

    /// How one token reads when laid out.
    public struct TokenText: Sendable, Equatable {
        /// The text drawn, with markers for newline and tab and escapes for control bytes.
        public var text: String
        /// A line ends after this token.
        public var breaksLine: Bool
        /// Only whitespace: a boundary between words.
        public var isBlank: Bool
        /// Starts with a space (word-piece vocabularies): the start of a new word.
        public var leadingSpace: Bool
    }

    /// Columns per line.
    public let width: Int
    /// One slot per token [N].
    public let slots: [Slot]
    /// Lines used.
    public let lineCount: Int

    /// Lays out `tokens` in lines of `width` columns; `glyphs` picks the newline and tab markers.
    public init(tokens: [Int32], vocabulary: Vocabulary, width: Int, glyphs: GlyphMode) {
        let lineWidth = max(1, width)
        self.width = lineWidth
        let shown = tokens.map { TokenLayout.display($0, vocabulary: vocabulary, glyphs: glyphs) }
        let widths = shown.map { min(lineWidth, max(1, DisplayWidth.of($0.text))) }
        var slots: [Slot] = []
        slots.reserveCapacity(tokens.count)
        var line = 0, column = 0
        for i in shown.indices {
            let startsWord = !shown[i].isBlank
                && (i == 0 || shown[i].leadingSpace || shown[i - 1].isBlank || shown[i - 1].breaksLine)
            if startsWord && column > 0 {
                var word = 0
                var j = i
                while j < shown.count && !shown[j].isBlank && word <= lineWidth
                    && (j == i || (!shown[j - 1].breaksLine && !shown[j].leadingSpace)) {
                    word += widths[j]
                    j += 1
                }
                if column + word > lineWidth && word <= lineWidth { line += 1; column = 0 }
            }
            if column + widths[i] > lineWidth { line += 1; column = 0 }
            let text = Text.truncate(shown[i].text, width: widths[i], glyphs: glyphs)
            slots.append(Slot(line: line, column: column, width: widths[i], text: text))
            column += widths[i]
            if shown[i].breaksLine { line += 1; column = 0 }
        }
        self.slots = slots
        self.lineCount = slots.isEmpty ? 0 : (slots[slots.count - 1].line + 1)
    }

    /// How one token reads: newline and tab as markers, control characters escaped (a vocab entry
    /// comes from a file), and where words start.
    public static func display(_ token: Int32, vocabulary: Vocabulary, glyphs: GlyphMode) -> TokenText {
        let newline = glyphs == .unicode ? "↵" : "$"
        let tab = glyphs == .unicode ? "→" : ">"
        if case .bytes = vocabulary {
            switch token & 0xFF {
            case 0x0A: return TokenText(text: newline, breaksLine: true, isBlank: true, leadingSpace: false)
            case 0x09: return TokenText(text: tab, breaksLine: false, isBlank: true, leadingSpace: false)
            case 0x20: return TokenText(text: " ", breaksLine: false, isBlank: true, leadingSpace: true)
            default: return TokenText(text: vocabulary.text(of: token), breaksLine: false, isBlank: false, leadingSpace: false)
            }
        }
        let raw = vocabulary.text(of: token)
        var text = ""
        for scalar in raw.unicodeScalars {
            switch scalar.value {
            case 0x0A: text += newline
            case 0x09: text += tab
            case 0..<0x20, 0x7F: text += "\\x" + String(scalar.value, radix: 16)
            // C1, bidi controls and separators: escaped as `UntrustedText` escapes them.
            case _ where UntrustedText.needsEscape(scalar): text += UntrustedText.sanitized(String(scalar))
            default: text.unicodeScalars.append(scalar)
            }
        }
        let blank = !raw.isEmpty && raw.allSatisfy { $0 == " " || $0 == "\n" || $0 == "\t" }
        return TokenText(text: text, breaksLine: raw.hasSuffix("\n"), isBlank: blank, leadingSpace: raw.first == " ")
    }

    /// The first line to show so that `cursor`'s line sits in the middle of `rows` visible lines
    /// (clamped so the text never scrolls past its ends).
    public func firstLine(cursor: Int, rows: Int) -> Int {
        guard cursor >= 0, cursor < slots.count, rows > 0 else { return 0 }
        let target = slots[cursor].line - (rows - 1) / 2
        return min(max(0, target), max(0, lineCount - rows))
    }

    /// The token covering (line, column), if any.
    public func token(line: Int, column: Int) -> Int? {
        // Slots are ordered by line, then column: binary search for the first slot on or after the line.
        var lo = 0, hi = slots.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if slots[mid].line < line { lo = mid + 1 } else { hi = mid }
        }
        var i = lo
        while i < slots.count && slots[i].line == line {
            if column >= slots[i].column && column < slots[i].column + slots[i].width { return i }
            i += 1
        }
        return nil
    }
}
