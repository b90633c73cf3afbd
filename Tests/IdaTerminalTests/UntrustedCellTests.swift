import IdaTerminal
import Testing

/// The cell buffer is the last stop before the terminal: whatever views put in it, no cell holds a
/// control character, a bidi control or a line separator (each becomes a visible placeholder).
@Suite("Cells hold no terminal controls")
struct UntrustedCellTests {
    /// The scalars no cell may hold: C0, DEL, C1, bidi controls, U+2028/2029, U+FEFF.
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0..<0x20, 0x7F...0x9F, 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0x2028, 0x2029, 0xFEFF: return true
        default: return false
        }
    }

    static let hostile = "a\u{1B}]0;x\u{07}b\u{202E}c\u{0}d\u{7F}e\u{85}f\u{9B}g\u{61C}h\u{200E}i\u{200F}j\u{202A}k\u{2066}l"
        + "\u{2069}m\u{2028}n\u{2029}o\u{FEFF}p\r\nq\tr"

    @Test("put, set and fill leave a placeholder for each control and keep the columns of the rest")
    func placeholders() {
        var buffer = ScreenBuffer(width: 80, height: 3)
        let end = buffer.put(Self.hostile, at: 0, y: 0)
        buffer.set(Cell(text: "\u{1B}"), x: 0, y: 1)
        buffer.set(Cell(text: "\u{2067}"), x: 1, y: 1)
        buffer.fill(Rect(x: 2, y: 1, width: 2, height: 1), character: "\u{202D}")
        Text("x\u{1B}[2Jy", mode: .full).render(in: Rect(x: 0, y: 2, width: 20, height: 1), into: &buffer)
        let bad = buffer.cells.flatMap { $0.text.unicodeScalars.filter(Self.isControl) }
        #expect(bad.isEmpty, "\(bad.map { String($0.value, radix: 16) })")
        // Every letter is still there, in order, and each control took one visible column.
        let line = buffer.lines(trimTrailingSpaces: true)[0]
        #expect(line.filter(\.isLetter).filter { $0 != "x" } == "abcdefghijklmnopqr", "\(line)")
        #expect(end == Self.hostile.count && !line.contains(" "), "\(line)")
        #expect(buffer.lines()[1].hasPrefix("\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}"))
        #expect(buffer.lines()[2].hasPrefix("x\u{FFFD}[2Jy"))
        // The diff the curses backend writes comes from the same cells.
        #expect(buffer.diff(from: ScreenBuffer(width: 0, height: 0)).allSatisfy { !$0.cell.text.unicodeScalars.contains(where: Self.isControl) })
    }
}
