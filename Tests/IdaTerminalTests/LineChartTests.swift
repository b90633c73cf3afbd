import IdaTerminal
import Testing

@Suite struct LineChartTests {
    @Test func labelsAxisAndLine() {
        var buffer = ScreenBuffer(width: 8, height: 2)
        LineChart(series: [ChartSeries(values: [0, 1, 2, 3, 4])]).render(in: buffer.bounds, into: &buffer)
        #expect(buffer.lines() == ["4.00┤  ⡜", "   0┤⡰⠉ "])
    }

    @Test func flatSeriesGetsARange() {
        let chart = LineChart(series: [ChartSeries(values: [2, 2])])
        #expect(chart.effectiveRange == 1...3)
        #expect(LineChart(series: []).effectiveRange == 0...1)
    }

    @Test func seriesColours() {
        var buffer = ScreenBuffer(width: 2, height: 1)
        let chart = LineChart(series: [ChartSeries(values: [0, 1], color: .red), ChartSeries(values: [1, 0], color: .cyan)])
        chart.render(in: buffer.bounds, into: &buffer)
        #expect(buffer.cell(x: 0, y: 0)?.style.fg == .cyan)
    }

    @Test(arguments: snapshotModes.indices)
    func snapshots(modeIndex: Int) {
        let (name, mode) = snapshotModes[modeIndex]
        let loss = (0..<30).map { 2.5 / (1 + Double($0) / 4) }
        var balance = (0..<30).map { 0.4 + 0.3 * Double($0 % 7) / 7 }
        balance[12] = .nan
        let chart = LineChart(series: [ChartSeries(values: loss, color: .green), ChartSeries(values: balance, color: .yellow)], mode: mode)
        expectSnapshot(Snapshot.frames(chart, sizes: widgetSizes), named: "linechart-\(name)")
    }
}
