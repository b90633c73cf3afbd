/// A border with an optional title in the top edge, drawn with box-drawing characters or "+-|".
public struct Box: Widget, Sendable {
    /// Title shown in the top edge, truncated to fit.
    public var title: String?
    /// Style of the border.
    public var style: Style
    /// Style of the title.
    public var titleStyle: Style
    /// Glyphs allowed.
    public var mode: DisplayMode

    /// Creates a box.
    public init(title: String? = nil, style: Style = .plain, titleStyle: Style = .plain, mode: DisplayMode = .full) {
        self.title = title
        self.style = style
        self.titleStyle = titleStyle
        self.mode = mode
    }

    /// The area inside the border.
    public func inner(_ area: Rect) -> Rect { area.inset(by: 1) }

    /// Draws the border on the edge cells of the area; areas smaller than 2x2 are left alone.
    public func render(in area: Rect, into buffer: inout ScreenBuffer) {
        guard area.width >= 2, area.height >= 2 else { return }
        let u = mode.unicode
        let horizontal: Character = u ? "─" : "-"
        let vertical: Character = u ? "│" : "|"
        let corners: [Character] = u ? ["┌", "┐", "└", "┘"] : ["+", "+", "+", "+"]
        let top = area.minY
        let bottom = area.maxY - 1
        for x in area.minX + 1..<area.maxX - 1 {
            buffer.set(Cell(horizontal, style: style), x: x, y: top)
            buffer.set(Cell(horizontal, style: style), x: x, y: bottom)
        }
        for y in area.minY + 1..<area.maxY - 1 {
            buffer.set(Cell(vertical, style: style), x: area.minX, y: y)
            buffer.set(Cell(vertical, style: style), x: area.maxX - 1, y: y)
        }
        buffer.set(Cell(corners[0], style: style), x: area.minX, y: top)
        buffer.set(Cell(corners[1], style: style), x: area.maxX - 1, y: top)
        buffer.set(Cell(corners[2], style: style), x: area.minX, y: bottom)
        buffer.set(Cell(corners[3], style: style), x: area.maxX - 1, y: bottom)
        guard let title, !title.isEmpty, area.width >= 5 else { return }
        let slot = Rect(x: area.x + 1, y: top, width: area.width - 2, height: 1)
        let fitted = Text.truncate(title, width: slot.width - 2, glyphs: mode.glyphs)
        buffer.put(" " + fitted + " ", at: slot.x, y: top, style: titleStyle, clip: slot)
    }
}
