import IdaTerminal
import Testing

@Suite struct SparklineTests {
    private func line(_ values: [Double], width: Int, height: Int = 1, mode: DisplayMode = .full,
                      min: Double? = nil, max: Double? = nil) -> [String] {
        var buffer = ScreenBuffer(width: width, height: height)
        Sparkline(values: values, min: min, max: max, mode: mode).render(in: buffer.bounds, into: &buffer)
        return buffer.lines()
    }

    @Test func rampOverZeroToSeven() {
        #expect(line((0...7).map(Double.init), width: 8) == ["▁▂▃▄▅▆▇█"])
    }

    @Test func asciiRamp() {
        #expect(line((0...4).map(Double.init), width: 5, mode: .plain) == ["_.-~^"])
    }

    @Test func nanLeavesGapAndLastValuesWin() {
        #expect(line([0, .nan, 7], width: 3) == ["▁ █"])
        #expect(line([7, 0, 0, 7], width: 2) == ["▁█"])
        #expect(line([1, 2], width: 4) == ["▁█  "])
    }

    @Test func explicitRangeClamps() {
        #expect(line([-5, 5, 20], width: 3, min: 0, max: 10) == ["▁▅█"])
        #expect(line([3, 3], width: 2) == ["▅▅"])
    }

    @Test func tallerAreaStacksRows() {
        #expect(line([0, 1, 2, 3], width: 4, height: 2) == ["  ▃█", "▁▆██"])
    }

    @Test(arguments: snapshotModes.indices)
    func snapshots(modeIndex: Int) {
        let (name, mode) = snapshotModes[modeIndex]
        let values: [Double] = [0, 1, 2, 3, 4, 5, 6, 7, .nan, 7, 6, 5, 4, 3, 2, 1, 0, 2, 4, 6, 3, 1, 5, 7]
        let widget = Sparkline(values: values, mode: mode)
        expectSnapshot(Snapshot.frames(widget, sizes: widgetSizes), named: "sparkline-\(name)")
    }
}
