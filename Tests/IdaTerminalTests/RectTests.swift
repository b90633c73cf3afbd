import IdaTerminal
import Testing

@Suite struct RectTests {
    @Test func edgesContainsAndInset() {
        let r = Rect(x: 2, y: 3, width: 4, height: 2)
        #expect((r.maxX, r.maxY, r.area) == (6, 5, 8))
        #expect(r.contains(x: 2, y: 3) && r.contains(x: 5, y: 4))
        #expect(!r.contains(x: 6, y: 3) && !r.contains(x: 1, y: 3))
        #expect(r.inset(by: 1) == Rect(x: 3, y: 4, width: 2, height: 0))
        #expect(r.inset(by: 5).isEmpty)
        #expect(Rect(x: 0, y: 0, width: -4, height: 2).width == 0)
    }

    @Test func intersection() {
        let a = Rect(x: 0, y: 0, width: 10, height: 4)
        #expect(a.intersection(Rect(x: 8, y: 2, width: 5, height: 5)) == Rect(x: 8, y: 2, width: 2, height: 2))
        #expect(a.intersection(Rect(x: 20, y: 0, width: 5, height: 5)).isEmpty)
    }

    @Test func fixedAndFillColumns() {
        let parts = Rect(x: 1, y: 0, width: 10, height: 2).columns([.fixed(3), .fill(1), .fixed(2)])
        #expect(parts == [
            Rect(x: 1, y: 0, width: 3, height: 2), Rect(x: 4, y: 0, width: 5, height: 2), Rect(x: 9, y: 0, width: 2, height: 2),
        ])
    }

    @Test func ratioRowsWithSpacing() {
        let parts = Rect(x: 0, y: 0, width: 4, height: 11).rows([.ratio(0.5), .fill(1)], spacing: 1)
        #expect(parts == [Rect(x: 0, y: 0, width: 4, height: 5), Rect(x: 0, y: 6, width: 4, height: 5)])
    }

    @Test func fillWeightsShareRemainderFromTheFirst() {
        let parts = Rect(x: 0, y: 0, width: 10, height: 1).columns([.fill(1), .fill(1), .fill(1)])
        #expect(parts.map(\.width) == [4, 3, 3])
        let weighted = Rect(x: 0, y: 0, width: 9, height: 1).columns([.fill(2), .fill(1)])
        #expect(weighted.map(\.width) == [6, 3])
    }

    @Test func overfullSplitShrinksLaterParts() {
        let parts = Rect(x: 0, y: 0, width: 5, height: 1).columns([.fixed(3), .fixed(4), .fill(1)])
        #expect(parts.map(\.width) == [3, 2, 0])
        #expect(parts.allSatisfy { $0.maxX <= 5 })
    }

    @Test func degenerateSplits() {
        #expect(Rect.zero.columns([.fixed(2), .fill(1)]).map(\.width) == [0, 0])
        #expect(Rect(x: 0, y: 0, width: 1, height: 1).rows([.fill(1), .fill(1)], spacing: 3).map(\.height) == [0, 0])
        #expect(Rect(x: 0, y: 0, width: 3, height: 3).rows([]).isEmpty)
    }

    @Test func rowHelper() {
        let r = Rect(x: 1, y: 1, width: 3, height: 2)
        #expect(r.row(1) == Rect(x: 1, y: 2, width: 3, height: 1))
        #expect(r.row(2).isEmpty)
    }
}
