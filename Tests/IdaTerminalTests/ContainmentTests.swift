import IdaTerminal
import Testing

/// Every widget, at every size and in every mode, stays inside the rectangle it is given.
@Suite struct ContainmentTests {
    static let widgets: [(String, @Sendable (DisplayMode) -> any Widget)] = [
        ("text", { Text("wide 漢字 text that is long\nline two", alignment: .right, mode: $0) }),
        ("bar", { HorizontalBar(fraction: 0.7, marker: 0.9, mode: $0) }),
        ("sparkline", { Sparkline(values: [1, 5, .nan, 3, 9, 2], mode: $0) }),
        ("heatmap", { Heatmap(values: [[1, 2, 3], [4, .nan, 6]], cellWidth: 3, labelDecimals: 1, mode: $0) }),
        ("linechart", { LineChart(series: [ChartSeries(values: [3, 1, 4, 1, 5, 9, 2, 6])], mode: $0) }),
        ("box", { Box(title: "漢字 title", mode: $0) }),
        ("pattern", { TestPattern(status: "s", mode: $0) }),
    ]

    @Test func widgetsNeverDrawOutsideTheirArea() {
        let modes: [DisplayMode] = [.full, .plain, DisplayMode(colors: .eight, glyphs: .unicode)]
        let sizes = [(0, 0), (1, 1), (3, 1), (1, 4), (2, 2), (7, 3), (24, 5)]
        for (name, make) in ContainmentTests.widgets {
            for mode in modes {
                for (w, h) in sizes {
                    var buffer = ScreenBuffer(width: w + 6, height: h + 4)
                    buffer.fill(buffer.bounds, character: "@")
                    let area = Rect(x: 3, y: 2, width: w, height: h)
                    make(mode).render(in: area, into: &buffer)
                    for y in 0..<buffer.height {
                        for x in 0..<buffer.width where !area.contains(x: x, y: y) {
                            #expect(buffer.cell(x: x, y: y)?.text == "@", "\(name) \(w)x\(h) wrote at \(x),\(y)")
                        }
                    }
                }
            }
        }
    }

    @Test func canvasLargerThanAreaIsCut() {
        var canvas = BrailleCanvas(columns: 4, rows: 4)
        canvas.line(from: DataPoint(x: 0, y: 0), to: DataPoint(x: 1, y: 1))
        var buffer = ScreenBuffer(width: 4, height: 4)
        buffer.fill(buffer.bounds, character: "@")
        canvas.render(in: Rect(x: 1, y: 1, width: 2, height: 2), into: &buffer)
        #expect(buffer.lines()[0] == "@@@@")
        #expect(buffer.lines()[3] == "@@@@")
        #expect(buffer.lines().allSatisfy { $0.hasPrefix("@") && $0.hasSuffix("@") })
    }
}
