import IdaTerminal
import Testing

@Suite struct TestPatternTests {
    @Test(arguments: snapshotModes.indices)
    func snapshots(modeIndex: Int) {
        let (name, mode) = snapshotModes[modeIndex]
        let sizes = [(0, 0), (1, 1), (3, 1), (12, 4), (40, 10), (72, 20)]
        let pattern = TestPattern(status: "status line", mode: mode)
        expectSnapshot(Snapshot.frames(pattern, sizes: sizes), named: "testpattern-\(name)")
    }
}
