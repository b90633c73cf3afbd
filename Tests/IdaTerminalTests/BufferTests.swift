import IdaTerminal
import Testing

@Suite struct BufferTests {
    @Test func putWritesTextAndReturnsNextColumn() {
        var buffer = ScreenBuffer(width: 6, height: 2)
        let end = buffer.put("abc", at: 1, y: 1)
        #expect(end == 4)
        #expect(buffer.lines() == ["      ", " abc  "])
        #expect(buffer.lines(trimTrailingSpaces: true) == ["", " abc"])
    }

    @Test func putClipsToRectAndBuffer() {
        var buffer = ScreenBuffer(width: 6, height: 2)
        buffer.put("abcdefgh", at: -2, y: 0)
        buffer.put("xyz", at: 0, y: 1, clip: Rect(x: 1, y: 1, width: 1, height: 1))
        buffer.put("never", at: 0, y: 5)
        #expect(buffer.lines() == ["cdefgh", " y    "])
    }

    @Test func wideCharacterTakesTwoCells() {
        var buffer = ScreenBuffer(width: 5, height: 1)
        let end = buffer.put("漢a", at: 0, y: 0)
        #expect(end == 3)
        #expect(buffer.cell(x: 0, y: 0)?.text == "漢")
        #expect(buffer.cell(x: 1, y: 0)?.isContinuation == true)
        #expect(buffer.cell(x: 2, y: 0)?.text == "a")
        #expect(buffer.lines() == ["漢a  "])
    }

    @Test func wideCharacterCutAtRightEdgeBecomesSpace() {
        var buffer = ScreenBuffer(width: 3, height: 1)
        buffer.put("ab漢", at: 0, y: 0, style: Style(bold: true))
        #expect(buffer.lines() == ["ab "])
        #expect(buffer.cell(x: 2, y: 0)?.style.bold == true)
        var clipped = ScreenBuffer(width: 5, height: 1)
        clipped.put("a漢", at: 0, y: 0, clip: Rect(x: 0, y: 0, width: 2, height: 1))
        #expect(clipped.lines() == ["a    "])
    }

    @Test func wideCharacterCutAtLeftEdgeBecomesSpace() {
        var buffer = ScreenBuffer(width: 4, height: 1)
        buffer.fill(buffer.bounds, character: "x")
        buffer.put("漢b", at: -1, y: 0)
        #expect(buffer.lines() == [" bxx"])
        var clipped = ScreenBuffer(width: 4, height: 1)
        clipped.fill(clipped.bounds, character: "x")
        clipped.put("漢b", at: 0, y: 0, clip: Rect(x: 1, y: 0, width: 3, height: 1))
        #expect(clipped.lines() == ["x bx"])
    }

    @Test func overwritingHalfAWideCharacterBlanksTheOtherHalf() {
        var buffer = ScreenBuffer(width: 4, height: 1)
        buffer.put("漢字", at: 0, y: 0)
        buffer.put("x", at: 1, y: 0)
        #expect(buffer.lines() == [" x字"])
        buffer.put("y", at: 2, y: 0)
        #expect(buffer.lines() == [" xy "])
        #expect(buffer.cells.allSatisfy { !$0.isContinuation })
    }

    @Test func brailleAndBlocksAreNarrow() {
        #expect(DisplayWidth.of("⣿" as Character) == 1)
        #expect(DisplayWidth.of("█" as Character) == 1)
        #expect(DisplayWidth.of("▏" as Character) == 1)
        #expect(DisplayWidth.of("─" as Character) == 1)
        #expect(DisplayWidth.of("한" as Character) == 2)
        #expect(DisplayWidth.of("🙂" as Character) == 2)
        #expect(DisplayWidth.of("e\u{301}" as Character) == 1)
        // A control takes the one column of the placeholder the buffer draws for it (UntrustedCellTests).
        #expect(DisplayWidth.of("\t" as Character) == 1)
        #expect(DisplayWidth.of("\u{200B}" as Character) == 0)
        #expect(DisplayWidth.of("a漢b") == 4)
    }

    @Test func fillClipsAndStyles() {
        var buffer = ScreenBuffer(width: 3, height: 2)
        buffer.fill(Rect(x: 2, y: 1, width: 5, height: 5), style: Style(reverse: true), character: "#")
        #expect(buffer.lines() == ["   ", "  #"])
        #expect(buffer.cell(x: 2, y: 1)?.style.reverse == true)
        #expect(buffer.cell(x: 3, y: 1) == nil)
    }

    @Test func degenerateBuffers() {
        var empty = ScreenBuffer(width: 0, height: 0)
        empty.put("abc", at: 0, y: 0)
        empty.fill(Rect(x: 0, y: 0, width: 3, height: 3))
        #expect(empty.lines().isEmpty)
        var one = ScreenBuffer(width: 1, height: 1)
        one.put("漢", at: 0, y: 0)
        #expect(one.lines() == [" "])
        #expect(ScreenBuffer(width: -3, height: 2).width == 0)
    }

    @Test func diffReportsOnlyChangedCells() {
        var old = ScreenBuffer(width: 4, height: 2)
        old.put("abcd", at: 0, y: 0)
        var new = old
        new.put("X", at: 2, y: 0)
        new.put("q", at: 1, y: 1, style: Style(fg: .red))
        let changes = new.diff(from: old)
        #expect(changes.map { [$0.x, $0.y] } == [[2, 0], [1, 1]])
        #expect(changes.map(\.cell.text) == ["X", "q"])
        #expect(new.diff(from: new).isEmpty)
        var restyled = new
        restyled.put("X", at: 2, y: 0, style: Style(bold: true))
        #expect(restyled.diff(from: new).count == 1)
    }

    @Test func diffAgainstOtherSizeReportsEverything() {
        let small = ScreenBuffer(width: 2, height: 1)
        let big = ScreenBuffer(width: 3, height: 2)
        #expect(big.diff(from: small).count == 6)
    }

    @Test func textJoinsTrimmedLines() {
        var buffer = ScreenBuffer(width: 4, height: 2)
        buffer.put("hi", at: 0, y: 0)
        buffer.put("yo", at: 2, y: 1)
        #expect(buffer.text() == "hi\n  yo")
    }
}
