import IdaTerminal
import Testing

@Suite struct HorizontalBarTests {
    @Test func eighths() {
        #expect(HorizontalBar.cells(fraction: 0.5, width: 1, glyphs: .unicode) == ["▌"])
        #expect(HorizontalBar.cells(fraction: 0.125, width: 1, glyphs: .unicode) == ["▏"])
        #expect(HorizontalBar.cells(fraction: 0.5, width: 4, glyphs: .unicode) == ["█", "█", nil, nil])
        #expect(HorizontalBar.cells(fraction: 0.3, width: 4, glyphs: .unicode) == ["█", "▎", nil, nil])
        #expect(HorizontalBar.cells(fraction: 1.7, width: 2, glyphs: .unicode) == ["█", "█"])
        #expect(HorizontalBar.cells(fraction: .nan, width: 2, glyphs: .unicode) == [nil, nil])
        #expect(HorizontalBar.cells(fraction: 0.5, width: 0, glyphs: .unicode).isEmpty)
    }

    @Test func asciiFill() {
        #expect(HorizontalBar.cells(fraction: 0.5, width: 1, glyphs: .ascii) == ["="])
        #expect(HorizontalBar.cells(fraction: 0.125, width: 1, glyphs: .ascii) == ["-"])
        #expect(HorizontalBar.cells(fraction: 0.75, width: 2, glyphs: .ascii) == ["#", "="])
    }

    @Test func markerAndStyles() {
        var buffer = ScreenBuffer(width: 8, height: 1)
        let bar = HorizontalBar(fraction: 0.5, style: Style(fg: .green), trackStyle: Style(bg: .black),
                                marker: 0.25, markerStyle: Style(fg: .red))
        bar.render(in: buffer.bounds, into: &buffer)
        #expect(buffer.lines() == ["██│█    "])
        #expect(buffer.cell(x: 0, y: 0)?.style.fg == .green)
        #expect(buffer.cell(x: 2, y: 0)?.style.fg == .red)
        #expect(buffer.cell(x: 6, y: 0)?.style.bg == .black)
    }

    @Test(arguments: snapshotModes.indices)
    func snapshots(modeIndex: Int) {
        let (name, mode) = snapshotModes[modeIndex]
        let widget = HorizontalBar(fraction: 0.6, marker: 0.25, mode: mode)
        expectSnapshot(Snapshot.frames(widget, sizes: widgetSizes), named: "bar-\(name)")
    }
}
