import IdaTerminal

/// One row of differently styled pieces ("step 400 · ● live"), drawn left to right and cut at the
/// area's right edge (the last visible piece ends in an ellipsis when something was cut).
struct StyledLine: Widget, Sendable {
    /// The pieces in order.
    var pieces: [(text: String, style: Style)]
    /// Glyphs allowed for the ellipsis.
    var mode: DisplayMode

    /// A line of `pieces`.
    init(_ pieces: [(String, Style)] = [], mode: DisplayMode) {
        self.pieces = pieces.map { (text: $0.0, style: $0.1) }
        self.mode = mode
    }

    /// Adds a piece.
    mutating func append(_ text: String, _ style: Style = .plain) {
        pieces.append((text: text, style: style))
    }

    /// Columns the whole line takes.
    var width: Int { pieces.reduce(0) { $0 + DisplayWidth.of($1.text) } }

    /// All pieces' text joined.
    var plainText: String { pieces.map(\.text).joined() }

    /// Draws the pieces on the area's first row; the row is not cleared first.
    func render(in area: Rect, into buffer: inout ScreenBuffer) {
        guard !area.isEmpty else { return }
        let row = area.row(0)
        let total = width
        var x = row.x
        for piece in pieces {
            let room = row.maxX - x
            guard room > 0 else { return }
            let pieceWidth = DisplayWidth.of(piece.text)
            // Cut here when this piece overflows, or when it fills the row exactly but more follows.
            if pieceWidth > room || (pieceWidth == room && x - row.x + pieceWidth < total) {
                let fitted = Text.truncate(piece.text + " ", width: room, glyphs: mode.glyphs)
                buffer.put(fitted, at: x, y: row.y, style: piece.style, clip: row)
                return
            }
            x = buffer.put(piece.text, at: x, y: row.y, style: piece.style, clip: row)
        }
    }

    /// Draws the line right-aligned in the area's first row (cut on the left side's pieces first
    /// is not attempted: a line wider than the area is drawn left-aligned and cut).
    func renderRight(in area: Rect, into buffer: inout ScreenBuffer) {
        let used = width
        guard used < area.width else { return render(in: area, into: &buffer) }
        render(in: Rect(x: area.maxX - used, y: area.y, width: used, height: min(area.height, 1)), into: &buffer)
    }
}
