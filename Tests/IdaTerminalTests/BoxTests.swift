import IdaTerminal
import Testing

@Suite struct BoxTests {
    @Test func borderAndTitle() {
        var buffer = ScreenBuffer(width: 10, height: 3)
        Box(title: "Experts").render(in: buffer.bounds, into: &buffer)
        #expect(buffer.lines() == ["┌ Exper… ┐", "│        │", "└────────┘"])
        #expect(Box().inner(buffer.bounds) == Rect(x: 1, y: 1, width: 8, height: 1))
    }

    @Test func asciiBorderTruncatesTitle() {
        var buffer = ScreenBuffer(width: 10, height: 2)
        Box(title: "Routing entropy", mode: .plain).render(in: buffer.bounds, into: &buffer)
        #expect(buffer.lines() == ["+ Rou... +", "+--------+"])
    }

    @Test(arguments: snapshotModes.indices)
    func snapshots(modeIndex: Int) {
        let (name, mode) = snapshotModes[modeIndex]
        let box = Box(title: "Layer 3 · experts", mode: mode)
        expectSnapshot(Snapshot.frames(box, sizes: widgetSizes), named: "box-\(name)")
    }
}
