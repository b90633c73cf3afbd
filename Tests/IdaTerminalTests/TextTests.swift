import IdaTerminal
import Testing

@Suite struct TextTests {
    @Test func truncatesWithEllipsis() {
        #expect(Text.truncate("routing", width: 5, glyphs: .unicode) == "rout…")
        #expect(Text.truncate("routing", width: 5, glyphs: .ascii) == "ro...")
        #expect(Text.truncate("routing", width: 2, glyphs: .ascii) == "ro")
        #expect(Text.truncate("routing", width: 7, glyphs: .ascii) == "routing")
        #expect(Text.truncate("漢字漢字", width: 4, glyphs: .unicode) == "漢…")
        #expect(Text.truncate("abc", width: 0, glyphs: .unicode) == "")
    }

    @Test func alignment() {
        var buffer = ScreenBuffer(width: 7, height: 3)
        Text("ab", alignment: .left).render(in: buffer.bounds.row(0), into: &buffer)
        Text("ab", alignment: .center).render(in: buffer.bounds.row(1), into: &buffer)
        Text("ab", alignment: .right).render(in: buffer.bounds.row(2), into: &buffer)
        #expect(buffer.lines() == ["ab     ", "  ab   ", "     ab"])
    }

    @Test func multipleLinesStopAtAreaHeight() {
        var buffer = ScreenBuffer(width: 3, height: 2)
        Text("a\nb\nc").render(in: buffer.bounds, into: &buffer)
        #expect(buffer.lines() == ["a  ", "b  "])
    }

    @Test(arguments: snapshotModes.indices)
    func snapshots(modeIndex: Int) {
        let (name, mode) = snapshotModes[modeIndex]
        let widget = Text("Layer 3 routing 漢字 entropy\nsecond line", style: Style(bold: true), alignment: .center, mode: mode)
        expectSnapshot(Snapshot.frames(widget, sizes: widgetSizes), named: "text-\(name)")
    }
}
