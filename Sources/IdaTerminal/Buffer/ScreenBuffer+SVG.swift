extension ScreenBuffer {
    /// The frame as an SVG document, as a dark terminal shows it (`SVGFrame`: grid, font, colours).
    ///
    /// A rectangle of the default background, then one rectangle per run of cells in a row with the
    /// same other background, one 1 px line per run of underlined cells, and one `<text>` per run of
    /// glyphs with the same colour and weight (spaces join any run; runs never start or end with
    /// one). Each run's `textLength` is its width in cells, so columns stay on the grid whatever font
    /// the viewer finds, and its spaces are kept (`xml:space` on each `<text>`: Chromium does not
    /// inherit it from a group). The same buffer always gives the same bytes.
    public func svg() -> String {
        let cw = SVGFrame.cellWidth
        let ch = SVGFrame.cellHeight
        let looks = cells.map { SVGFrame.look(of: $0.style) }
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width * cw)\" height=\"\(height * ch)\""
            + " viewBox=\"0 0 \(width * cw) \(height * ch)\">\n"
        out += "<rect width=\"\(width * cw)\" height=\"\(height * ch)\" fill=\"\(SVGFrame.defaultBackground.hex)\"/>\n"

        var shapes = ""
        for y in 0..<height {
            forEachRun(in: y, key: { looks[$0].background }) { x, end, background in
                guard background != SVGFrame.defaultBackground else { return }
                shapes += "<rect x=\"\(x * cw)\" y=\"\(y * ch)\" width=\"\((end - x) * cw)\" height=\"\(ch)\" fill=\"\(background.hex)\"/>\n"
            }
        }
        for y in 0..<height {
            forEachRun(in: y, key: { looks[$0].underline ? looks[$0].foreground : nil }) { x, end, color in
                guard let color else { return }
                shapes += "<rect x=\"\(x * cw)\" y=\"\(y * ch + ch - 2)\" width=\"\((end - x) * cw)\" height=\"1\" fill=\"\(color.hex)\"/>\n"
            }
        }
        if !shapes.isEmpty { out += "<g shape-rendering=\"crispEdges\">\n" + shapes + "</g>\n" }

        var texts = ""
        for y in 0..<height {
            for run in textRuns(in: y, looks: looks) {
                texts += "<text x=\"\(run.x * cw)\" y=\"\(y * ch + SVGFrame.baseline)\" textLength=\"\(run.cells * cw)\" xml:space=\"preserve\""
                if run.foreground != SVGFrame.defaultForeground { texts += " fill=\"\(run.foreground.hex)\"" }
                if run.bold { texts += " font-weight=\"bold\"" }
                texts += ">" + Self.xmlEscaped(run.text) + "</text>\n"
            }
        }
        if !texts.isEmpty {
            out += "<g font-family=\"\(SVGFrame.fontFamily)\" font-size=\"\(SVGFrame.fontSize)\""
                + " fill=\"\(SVGFrame.defaultForeground.hex)\">\n" + texts + "</g>\n"
        }
        return out + "</svg>\n"
    }

    /// Calls `body(x, end, key)` for each run of cells x..<end of row `y` with equal `key(index)`.
    private func forEachRun<Key: Equatable>(in y: Int, key: (Int) -> Key, _ body: (Int, Int, Key) -> Void) {
        var x = 0
        while x < width {
            let value = key(y * width + x)
            var end = x + 1
            while end < width, key(y * width + end) == value { end += 1 }
            body(x, end, value)
            x = end
        }
    }

    /// One `<text>` element: glyphs from column `x` over `cells` columns in one colour and weight.
    private struct TextRun {
        var x: Int
        var cells: Int
        var text: String
        var foreground: SVGFrame.RGB
        var bold: Bool
    }

    /// The glyph runs of row `y`. A space belongs to whichever run it falls inside (it draws no
    /// glyph), so only a visible glyph of another colour or weight starts a new run; a wide grapheme
    /// takes its continuation cell's column too.
    private func textRuns(in y: Int, looks: [SVGFrame.Look]) -> [TextRun] {
        var runs: [TextRun] = []
        var current: TextRun?
        var spaces = 0  // blank columns since the current run's last glyph
        var x = 0
        while x < width {
            let index = y * width + x
            let cell = cells[index]
            let columns = x + 1 < width && cells[index + 1].isContinuation && !cell.isContinuation ? 2 : 1
            defer { x += columns }
            if cell.text == " " || cell.isContinuation {
                spaces += columns
                continue
            }
            let look = looks[index]
            if var run = current, run.foreground == look.foreground, run.bold == look.bold {
                run.text += String(repeating: " ", count: spaces) + cell.text
                run.cells += spaces + columns
                current = run
            } else {
                if let run = current { runs.append(run) }
                current = TextRun(x: x, cells: columns, text: cell.text, foreground: look.foreground, bold: look.bold)
            }
            spaces = 0
        }
        if let run = current { runs.append(run) }
        return runs
    }

    /// `text` as XML character data: `&`, `<`, `>` and `"` as entities, and any character XML may
    /// not hold or a terminal would act on (`CellText`; U+FFFE, U+FFFF) as U+FFFD.
    static func xmlEscaped(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default:
                if CellText.isControl(scalar) || scalar.value == 0xFFFE || scalar.value == 0xFFFF {
                    out += CellText.placeholder
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
