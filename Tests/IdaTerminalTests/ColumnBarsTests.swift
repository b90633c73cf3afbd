import IdaTerminal
import Testing

@Suite struct ColumnBarsTests {
    private func bars(_ values: [Double], max: Double, width: Int, height: Int, barWidth: Int = 1, gap: Int = 0,
                      mode: DisplayMode = .full) -> [String] {
        var buffer = ScreenBuffer(width: width, height: height)
        ColumnBars(values: values, max: max, barWidth: barWidth, gap: gap, mode: mode).render(in: buffer.bounds, into: &buffer)
        return buffer.lines()
    }

    @Test func barsStandOnTheBottomInEighths() {
        #expect(bars([1, 0.5, 0.0625, 0], max: 1, width: 4, height: 2) == ["█   ", "██▁ "])
        #expect(bars([0.25, 0.001], max: 1, width: 2, height: 1) == ["▂▁"])  // any positive value shows
    }

    @Test func widthGapAndClipping() {
        #expect(bars([1, 1, 1], max: 1, width: 7, height: 1, barWidth: 2, gap: 1) == ["██ ██ █"])
        #expect(ColumnBars(values: [1, 1, 1], max: 1, barWidth: 2, gap: 1).width == 8)
    }

    @Test func asciiAndDegenerate() {
        #expect(bars([1, 0.5, 0.25], max: 1, width: 3, height: 1, mode: .plain) == ["#=."])
        #expect(bars([1, .nan, -1], max: 0, width: 3, height: 1) == ["   "])  // no scale: nothing drawn
        #expect(bars([.nan, -1, .infinity], max: 1, width: 3, height: 1) == ["   "])
        var empty = ScreenBuffer(width: 0, height: 0)
        ColumnBars(values: [1], max: 1).render(in: empty.bounds, into: &empty)
        #expect(empty.lines().isEmpty)
    }
}
