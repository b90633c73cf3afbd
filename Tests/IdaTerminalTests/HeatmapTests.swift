import IdaTerminal
import Testing

@Suite struct HeatmapTests {
    private let grid: [[Double]] = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, .nan, 9]]

    @Test func palette256RunsDarkToLight() {
        var buffer = ScreenBuffer(width: 8, height: 3)
        Heatmap(values: grid, cellWidth: 2, mode: .full).render(in: buffer.bounds, into: &buffer)
        #expect(buffer.cell(x: 0, y: 0)?.style.bg == .indexed(HeatmapPalette.viridis256[0]))
        #expect(buffer.cell(x: 3, y: 2)?.style.bg == .indexed(HeatmapPalette.viridis256[9]))
        #expect(buffer.cell(x: 4, y: 2)?.style == .plain)
        #expect(buffer.lines() == Array(repeating: "        ", count: 3))
    }

    @Test func eightColoursUseFourSteps() {
        var buffer = ScreenBuffer(width: 4, height: 1)
        let mode = DisplayMode(colors: .eight, glyphs: .unicode)
        Heatmap(values: [[0, 3, 6, 9]], cellWidth: 1, mode: mode).render(in: buffer.bounds, into: &buffer)
        #expect(buffer.lines() == ["████"])
        #expect((0..<4).compactMap { buffer.cell(x: $0, y: 0)?.style } == HeatmapPalette.eightSteps)
        #expect(HeatmapPalette.eightSteps.map(\.dim) == [true, false, false, false])
        #expect(HeatmapPalette.eightSteps.map(\.bold) == [false, false, false, true])
    }

    @Test func monochromeUsesIntensityGlyphs() {
        var buffer = ScreenBuffer(width: 10, height: 1)
        let values = (0..<10).map(Double.init)
        Heatmap(values: [values], cellWidth: 1, mode: DisplayMode(colors: .monochrome, glyphs: .unicode))
            .render(in: buffer.bounds, into: &buffer)
        #expect(buffer.lines() == [" .:-=+*#%@"])
    }

    @Test func labelsWhenTheyFit() {
        var buffer = ScreenBuffer(width: 9, height: 1)
        Heatmap(values: [[0.25, 0.5, 12.5]], range: 0...1, cellWidth: 3, labelDecimals: 1, mode: .plain)
            .render(in: buffer.bounds, into: &buffer)
        #expect(buffer.lines() == ["0.30.5@@@"])
    }

    @Test func normalisation() {
        let map = Heatmap(values: [[2, 4]])
        #expect(map.normalised(3) == 0.5)
        #expect(map.normalised(10) == 1)
        #expect(map.normalised(.nan).isNaN)
        #expect(Heatmap(values: [[5, 5]]).normalised(5) == 0.5)
        #expect(Heatmap(values: []).effectiveRange == 0...1)
    }

    @Test(arguments: [("unicode", DisplayMode.full), ("ascii-mono", .plain),
                      ("eight-ascii", DisplayMode(colors: .eight, glyphs: .ascii))])
    func snapshots(name: String, mode: DisplayMode) {
        let values = (0..<5).map { r in (0..<12).map { c in Double(r * 12 + c) } }
        expectSnapshot(Snapshot.frames(Heatmap(values: values, cellWidth: 2, mode: mode), sizes: widgetSizes),
                       named: "heatmap-\(name)")
        let labelled = Heatmap(values: values, cellWidth: 3, labelDecimals: 0, mode: mode)
        expectSnapshot(Snapshot.frames(labelled, sizes: widgetSizes), named: "heatmap-labels-\(name)")
    }
}

@Suite("Heatmaps read as text")
struct HeatmapTextTests {
    @Test("a frame read as text draws a colour heatmap's cells in intensity glyphs; on screen they stay colour")
    func textOnly() {
        let values: [[Double]] = [[0, 0.5, 1, .nan]]
        var onScreen = ScreenBuffer(width: 4, height: 1)
        Heatmap(values: values, range: 0...1, cellWidth: 1, mode: .full).render(in: Rect(x: 0, y: 0, width: 4, height: 1), into: &onScreen)
        #expect(onScreen.text() == "", "colour alone, as before")
        var asText = ScreenBuffer(width: 4, height: 1)
        let textMode = DisplayMode(colors: .c256, glyphs: .unicode, textOnly: true)
        Heatmap(values: values, range: 0...1, cellWidth: 1, mode: textMode).render(in: Rect(x: 0, y: 0, width: 4, height: 1), into: &asText)
        #expect(asText.text() == " +@", "\(asText.text())")
        // The colours are kept as well, for whoever shows the styles.
        #expect(asText.cell(x: 2, y: 0)?.style.bg == onScreen.cell(x: 2, y: 0)?.style.bg)
    }
}
