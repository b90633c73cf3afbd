import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import IdaTerminal
import Testing
@testable import IdaInspector

/// Whole inspector frames as SVG, read back with an XML parser: the document parses, its text runs
/// put together row by row are the frame's rows, and every cell's background, glyph colour and
/// weight are what `SVGFrame.look` says for that cell's style.
@Suite("Inspector frames as SVG")
struct SVGFrameReadBackTests {
    /// What the parser found: rectangles and text runs with their attributes.
    final class Elements: NSObject, XMLParserDelegate {
        var rects: [[String: String]] = []
        var texts: [(attributes: [String: String], text: String)] = []
        var root: [String: String] = [:]
        private var open: [String: String]?
        private var characters = ""

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            switch name {
            case "svg": root = attributes
            case "rect": rects.append(attributes)
            case "text": open = attributes; characters = ""
            default: break
            }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if open != nil { characters += string }
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if name == "text", let attributes = open { texts.append((attributes, characters)) }
            open = nil
        }
    }

    /// The frame of `state` at `width` x `height` in `mode`.
    func frame(_ state: InspectorState, _ width: Int, _ height: Int, mode: DisplayMode) -> ScreenBuffer {
        var buffer = ScreenBuffer(width: width, height: height)
        InspectorView.render(state, mode: mode, into: &buffer)
        return buffer
    }

    /// Parses `buffer.svg()` and checks it against the buffer cell by cell.
    func readBack(_ buffer: ScreenBuffer, _ label: String) throws {
        let data = Data(buffer.svg().utf8)
        let parser = XMLParser(data: data)
        let elements = Elements()
        parser.delegate = elements
        #expect(parser.parse(), "\(label): \(parser.parserError.map { "\($0)" } ?? "")")
        let cw = SVGFrame.cellWidth, ch = SVGFrame.cellHeight
        #expect(elements.root["width"] == "\(buffer.width * cw)" && elements.root["height"] == "\(buffer.height * ch)")
        let looks = buffer.cells.map { SVGFrame.look(of: $0.style) }
        let int = { (attributes: [String: String], key: String) in Int(attributes[key] ?? "") ?? -1 }

        // Backgrounds: the first rectangle covers the frame, then one per run (18 px high); underlines are 1 px.
        var background = Array(repeating: SVGFrame.defaultBackground.hex, count: buffer.cells.count)
        var underline = Array(repeating: false, count: buffer.cells.count)
        for rect in elements.rects.dropFirst() {
            let (x, y, w, h) = (int(rect, "x"), int(rect, "y"), int(rect, "width"), int(rect, "height"))
            let fill = rect["fill"] ?? ""
            #expect(x % cw == 0 && w % cw == 0 && x >= 0 && x + w <= buffer.width * cw, "\(label): \(rect)")
            if h == ch {
                #expect(y % ch == 0 && fill != SVGFrame.defaultBackground.hex, "\(label): \(rect)")
                for column in x / cw..<(x + w) / cw { background[y / ch * buffer.width + column] = fill }
            } else {
                #expect(h == 1 && y % ch == ch - 2, "\(label): \(rect)")
                for column in x / cw..<(x + w) / cw {
                    let index = y / ch * buffer.width + column
                    underline[index] = true
                    #expect(fill == looks[index].foreground.hex, "\(label): underline \(rect)")
                }
            }
        }
        #expect(background == looks.map(\.background.hex), "\(label): backgrounds")
        #expect(underline == looks.map(\.underline), "\(label): underlines")

        // Text: each run at its column, `textLength` its width in cells, glyphs in the cells' colour and weight.
        var rows = Array(repeating: Array(repeating: " ", count: buffer.width), count: buffer.height)
        var wrong: [String] = []  // glyphs drawn in another colour or weight than their cell's
        for (attributes, text) in elements.texts {
            let (x, baseline) = (int(attributes, "x"), int(attributes, "y"))
            let (row, column) = (baseline / ch, x / cw)
            #expect(x % cw == 0 && baseline % ch == SVGFrame.baseline && row < buffer.height, "\(label): \(attributes)")
            #expect(int(attributes, "textLength") == DisplayWidth.of(text) * cw, "\(label): \(text)")
            #expect(attributes["xml:space"] == "preserve" && text.first != " " && text.last != " ", "\(label): '\(text)'")
            let fill = attributes["fill"] ?? SVGFrame.defaultForeground.hex
            let bold = attributes["font-weight"] == "bold"
            var c = column
            for character in text {
                let index = row * buffer.width + c
                rows[row][c] = String(character)
                if character != " ", fill != looks[index].foreground.hex || bold != looks[index].bold {
                    wrong.append("'\(character)' at \(c),\(row)")
                }
                if DisplayWidth.of(character) == 2 { rows[row][c + 1] = "" }
                c += DisplayWidth.of(character)
            }
        }
        #expect(wrong.isEmpty, "\(label): \(wrong.count) glyphs, e.g. \(wrong.prefix(5))")
        let lines = rows.map { row -> String in
            var line = row.joined()
            while line.last == " " { line.removeLast() }
            return line
        }
        #expect(lines == buffer.lines(trimTrailingSpaces: true), "\(label): text")
    }

    @Test("every screen at 120x40 in 256 colours, and at 80x24 in ASCII without colour", arguments: Screen.allCases)
    func screens(screen: Screen) throws {
        var state = try ViewsFixture.state(screen: screen)
        try readBack(frame(state, 120, 40, mode: .full), "\(screen) full")
        try readBack(frame(state, 80, 24, mode: .plain), "\(screen) plain")
        state.showHelp = true
        try readBack(frame(state, 120, 40, mode: .full), "\(screen) help")
    }

    @Test("the same frame gives the same bytes")
    func deterministic() throws {
        let state = try ViewsFixture.state(screen: .layer)
        #expect(frame(state, 120, 40, mode: .full).svg() == frame(state, 120, 40, mode: .full).svg())
    }
}
