import IdaTerminal
import Testing

@Suite struct HistoryRingTests {
    @Test func wrapsAroundKeepingNewest() {
        var ring = HistoryRing(capacity: 3)
        ring.append(contentsOf: [1, 2])
        #expect(ring.values == [1, 2])
        ring.append(contentsOf: [3, 4, 5])
        #expect(ring.values == [3, 4, 5])
        #expect(ring.count == 3)
        #expect(ring.last == 5)
        #expect(ring.value(at: 0) == 3)
        #expect(ring.value(at: 3) == nil)
        ring.append(6)
        #expect(ring.values == [4, 5, 6])
    }

    @Test func minMaxIgnoreNaN() {
        var ring = HistoryRing(capacity: 4, values: [.nan, 3, -1, .nan])
        #expect(ring.min == -1)
        #expect(ring.max == 3)
        ring.removeAll()
        #expect(ring.isEmpty && ring.min == nil && ring.max == nil && ring.last == nil)
        ring.append(.nan)
        #expect(ring.min == nil)
    }

    @Test func zeroCapacityHoldsNothing() {
        var ring = HistoryRing(capacity: 0)
        ring.append(1)
        #expect(ring.values.isEmpty)
        #expect(HistoryRing(capacity: -2).capacity == 0)
    }

    @Test func equalityIsByContentOrder() {
        let rotated = HistoryRing(capacity: 2, values: [9, 1, 2])
        let direct = HistoryRing(capacity: 2, values: [1, 2])
        #expect(rotated == direct)
    }

    @Test func oneSeriesDrawnThreeWays() {
        // A panel's data is kept apart from drawing: the same ring feeds a sparkline, bars and a plot.
        let ring = HistoryRing(capacity: 4, values: [0, 1, 2, 3, 4])
        var buffer = ScreenBuffer(width: 4, height: 3)
        Sparkline(values: ring.values).render(in: buffer.bounds.row(0), into: &buffer)
        let top = ring.max ?? 1
        HorizontalBar(fraction: (ring.last ?? 0) / top).render(in: buffer.bounds.row(1), into: &buffer)
        LineChart(series: [ChartSeries(values: ring.values)]).render(in: buffer.bounds.row(2), into: &buffer)
        #expect(buffer.lines() == ["▁▃▆█", "████", "⡠⠤⠒⠉"])
    }
}
