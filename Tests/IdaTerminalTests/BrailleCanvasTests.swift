import IdaTerminal
import Testing

@Suite struct BrailleCanvasTests {
    private func render(_ canvas: BrailleCanvas) -> [String] {
        var buffer = ScreenBuffer(width: canvas.columns, height: canvas.rows)
        canvas.render(in: buffer.bounds, into: &buffer)
        return buffer.lines()
    }

    @Test func dotOneIsTopLeft() {
        var canvas = BrailleCanvas(columns: 1, rows: 1)
        canvas.setDot(column: 0, row: 0)
        #expect(render(canvas) == ["\u{2801}"])
    }

    @Test func cornersOfAOneCellViewport() {
        // Data y grows upwards: y1 is the top row of dots, y0 the bottom one.
        let cases: [(DataPoint, String)] = [
            (DataPoint(x: 0, y: 1), "\u{2801}"), (DataPoint(x: 1, y: 1), "\u{2808}"),
            (DataPoint(x: 0, y: 0), "\u{2840}"), (DataPoint(x: 1, y: 0), "\u{2880}"),
        ]
        for (point, expected) in cases {
            var canvas = BrailleCanvas(columns: 1, rows: 1, viewport: .unit)
            canvas.point(point)
            #expect(render(canvas) == [expected])
        }
        var origin = BrailleCanvas(columns: 1, rows: 1, viewport: Viewport(x0: 0, x1: 1, y0: -1, y1: 0))
        origin.point(DataPoint(x: 0, y: 0))
        #expect(render(origin) == ["\u{2801}"])
    }

    @Test func everyDotBit() {
        var canvas = BrailleCanvas(columns: 1, rows: 1)
        for row in 0..<4 { for column in 0..<2 { canvas.setDot(column: column, row: row) } }
        #expect(render(canvas) == ["⣿"])
        canvas.setDot(column: 2, row: 0)
        canvas.setDot(column: 0, row: -1)
        #expect(render(canvas) == ["⣿"])
    }

    @Test func diagonalLineInOneCell() {
        var canvas = BrailleCanvas(columns: 1, rows: 1)
        canvas.line(from: DataPoint(x: 0, y: 0), to: DataPoint(x: 1, y: 1))
        #expect(render(canvas) == ["⡜"])
    }

    @Test func pointsOutsideAreIgnoredAndLinesClipped() {
        var canvas = BrailleCanvas(columns: 2, rows: 1)
        canvas.point(DataPoint(x: 2, y: 0.5))
        canvas.point(DataPoint(x: .nan, y: 0.5))
        #expect(render(canvas) == ["  "])
        canvas.line(from: DataPoint(x: -10, y: 1), to: DataPoint(x: 10, y: 1))
        #expect(render(canvas) == ["⠉⠉"])
        canvas.line(from: DataPoint(x: 1e9, y: 0), to: DataPoint(x: -1e9, y: 0))
        #expect(render(canvas) == ["⣉⣉"])
    }

    @Test func lastColourWins() {
        var canvas = BrailleCanvas(columns: 1, rows: 1, style: Style(bold: true))
        canvas.setDot(column: 0, row: 0, color: .red)
        canvas.setDot(column: 1, row: 1, color: .blue)
        canvas.setDot(column: 1, row: 2)
        var buffer = ScreenBuffer(width: 1, height: 1)
        canvas.render(in: buffer.bounds, into: &buffer)
        #expect(buffer.cell(x: 0, y: 0)?.style == Style(fg: .blue, bold: true))
    }

    @Test func asciiStandIns() {
        var canvas = BrailleCanvas(columns: 3, rows: 1, mode: .plain)
        canvas.setDot(column: 0, row: 3)
        canvas.setDot(column: 2, row: 0)
        canvas.setDot(column: 2, row: 3)
        for row in 0..<4 { for column in 4..<6 { canvas.setDot(column: column, row: row) } }
        #expect(render(canvas) == [".:*"])
    }

    @Test func polylineBreaksAtNaN() {
        var canvas = BrailleCanvas(columns: 3, rows: 1, viewport: Viewport(x0: 0, x1: 5, y0: 0, y1: 1))
        let ys: [Double] = [1, 1, .nan, 0, .nan, 1]
        canvas.polyline(ys.enumerated().map { DataPoint(x: Double($0.offset), y: $0.element) })
        #expect(render(canvas) == ["⠉⢀⠈"])
    }

    @Test(arguments: snapshotModes.indices)
    func snapshots(modeIndex: Int) {
        let (name, mode) = snapshotModes[modeIndex]
        let frames = widgetSizes.map { size -> (String, ScreenBuffer) in
            var canvas = BrailleCanvas(columns: size.0, rows: size.1, mode: mode)
            canvas.ellipse(center: DataPoint(x: 0.5, y: 0.5), radii: DataPoint(x: 0.45, y: 0.4))
            canvas.line(from: DataPoint(x: 0, y: 0), to: DataPoint(x: 1, y: 1))
            var buffer = ScreenBuffer(width: size.0, height: size.1)
            canvas.render(in: buffer.bounds, into: &buffer)
            return ("\(size.0)x\(size.1)", buffer)
        }
        expectSnapshot(frames, named: "braille-\(name)")
    }
}
