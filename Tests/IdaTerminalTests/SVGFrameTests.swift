import IdaTerminal
import Testing

/// `ScreenBuffer.svg()` on small buffers, compared with the whole document (docs/format.md, "Frames as SVG").
@Suite struct SVGFrameTests {
    /// The lines every document starts with, for a buffer of `width` x `height` cells.
    func head(_ width: Int, _ height: Int) -> String {
        let w = width * 9, h = height * 18
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w)\" height=\"\(h)\" viewBox=\"0 0 \(w) \(h)\">\n"
            + "<rect width=\"\(w)\" height=\"\(h)\" fill=\"#1c1c1c\"/>\n"
    }

    /// The opening tag of the group of text runs.
    let textGroup = "<g font-family=\"'DejaVu Sans Mono', 'Liberation Mono', Menlo, Consolas, monospace\" font-size=\"15\" fill=\"#d0d0d0\">\n"

    @Test func paletteIsXtermsOnADarkTheme() {
        let hex = { (index: Int) in SVGFrame.RGB(paletteIndex: index).hex }
        #expect([0, 1, 2, 3, 4, 5, 6, 7].map(hex) == ["#000000", "#cd0000", "#00cd00", "#cdcd00", "#0000ee", "#cd00cd", "#00cdcd", "#e5e5e5"])
        #expect([8, 9, 12, 15].map(hex) == ["#7f7f7f", "#ff0000", "#5c5cff", "#ffffff"])
        // The 6x6x6 cube (levels 0, 95, 135, 175, 215, 255), then the greys 8 + 10 n.
        #expect([16, 39, 196, 220, 231].map(hex) == ["#000000", "#00afff", "#ff0000", "#ffd700", "#ffffff"])
        #expect([232, 244, 255].map(hex) == ["#080808", "#808080", "#eeeeee"])
        #expect(SVGFrame.defaultForeground.hex == "#d0d0d0" && SVGFrame.defaultBackground.hex == "#1c1c1c")
    }

    @Test func stylesAsATerminalShowsThem() {
        var buffer = ScreenBuffer(width: 6, height: 1)
        buffer.put("ab", at: 0, y: 0, style: Style(fg: .red, bold: true))
        buffer.put("c", at: 2, y: 0, style: Style(fg: .indexed(39), bg: .indexed(244)))
        buffer.put("d", at: 3, y: 0, style: Style(reverse: true, underline: true))
        buffer.put("e", at: 4, y: 0, style: Style(fg: .green, dim: true))
        buffer.put("f", at: 5, y: 0, style: Style(dim: true))
        // Reverse swaps the default colours (the underline takes the swapped foreground); dim is
        // halfway to the background: (0, 205, 0) and (28, 28, 28) give (14, 116, 14).
        let expected = head(6, 1) + """
            <g shape-rendering="crispEdges">
            <rect x="18" y="0" width="9" height="18" fill="#808080"/>
            <rect x="27" y="0" width="9" height="18" fill="#d0d0d0"/>
            <rect x="27" y="16" width="9" height="1" fill="#1c1c1c"/>
            </g>

            """ + textGroup + """
            <text x="0" y="14" textLength="18" xml:space="preserve" fill="#cd0000" font-weight="bold">ab</text>
            <text x="18" y="14" textLength="9" xml:space="preserve" fill="#00afff">c</text>
            <text x="27" y="14" textLength="9" xml:space="preserve" fill="#1c1c1c">d</text>
            <text x="36" y="14" textLength="9" xml:space="preserve" fill="#0e740e">e</text>
            <text x="45" y="14" textLength="9" xml:space="preserve" fill="#767676">f</text>
            </g>
            </svg>

            """
        #expect(buffer.svg() == expected)
    }

    @Test func runsMergeAndSpacesJoinThem() {
        var buffer = ScreenBuffer(width: 8, height: 2)
        // Row 0: a red-styled space does not split "ab c"; leading and trailing spaces start no run.
        buffer.put("  ab", at: 0, y: 0)
        buffer.put(" ", at: 4, y: 0, style: Style(fg: .red))
        buffer.put("c  ", at: 5, y: 0)
        // Row 1: two background runs around a default cell; an underlined run of spaces draws its line.
        buffer.fill(Rect(x: 0, y: 1, width: 3, height: 1), style: Style(bg: .blue))
        buffer.fill(Rect(x: 4, y: 1, width: 2, height: 1), style: Style(bg: .blue))
        buffer.put("  ", at: 6, y: 1, style: Style(underline: true))
        let expected = head(8, 2) + """
            <g shape-rendering="crispEdges">
            <rect x="0" y="18" width="27" height="18" fill="#0000ee"/>
            <rect x="36" y="18" width="18" height="18" fill="#0000ee"/>
            <rect x="54" y="34" width="18" height="1" fill="#d0d0d0"/>
            </g>

            """ + textGroup + """
            <text x="18" y="14" textLength="36" xml:space="preserve">ab c</text>
            </g>
            </svg>

            """
        #expect(buffer.svg() == expected)
    }

    @Test func xmlEscapingAndCharactersXmlCannotHold() {
        var buffer = ScreenBuffer(width: 12, height: 1)
        buffer.put("<a&b>\"'", at: 0, y: 0)
        // ESC never reaches a cell (CellText); U+FFFE may, and XML cannot hold it: both show U+FFFD.
        buffer.put("x\u{1B}\u{FFFE}y", at: 7, y: 0)
        let expected = head(12, 1) + textGroup + """
            <text x="0" y="14" textLength="99" xml:space="preserve">&lt;a&amp;b&gt;&quot;'x\u{FFFD}\u{FFFD}y</text>
            </g>
            </svg>

            """
        #expect(buffer.svg() == expected)
    }

    @Test func wideCharactersTakeTwoCells() {
        var buffer = ScreenBuffer(width: 6, height: 1)
        buffer.put("漢a", at: 1, y: 0)
        buffer.put("字", at: 4, y: 0, style: Style(fg: .cyan, bg: .black))
        let expected = head(6, 1) + """
            <g shape-rendering="crispEdges">
            <rect x="36" y="0" width="18" height="18" fill="#000000"/>
            </g>

            """ + textGroup + """
            <text x="9" y="14" textLength="27" xml:space="preserve">漢a</text>
            <text x="36" y="14" textLength="18" xml:space="preserve" fill="#00cdcd">字</text>
            </g>
            </svg>

            """
        #expect(buffer.svg() == expected)
    }

    @Test func emptyAndBlankBuffers() {
        #expect(ScreenBuffer(width: 0, height: 0).svg() == head(0, 0) + "</svg>\n")
        #expect(ScreenBuffer(width: 3, height: 2).svg() == head(3, 2) + "</svg>\n")
    }

    @Test func formats() {
        var buffer = ScreenBuffer(width: 4, height: 2)
        buffer.put("ab", at: 0, y: 0, style: Style(bold: true))
        #expect(FrameFormat.text.document(buffer) == "ab\n\n")
        #expect(FrameFormat.svg.document(buffer) == buffer.svg())
        #expect(FrameFormat.text.textOnly && !FrameFormat.svg.textOnly)
        #expect(FrameFormat(rawValue: "svg") == .svg && FrameFormat(rawValue: "png") == nil)
    }
}
