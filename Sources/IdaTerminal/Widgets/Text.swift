/// Where text sits in its line.
public enum TextAlignment: Hashable, Sendable {
    /// Flush left.
    case left
    /// Centred (extra space goes to the right).
    case center
    /// Flush right.
    case right
}

/// Lines of text, one per row, aligned and truncated with an ellipsis to fit.
public struct Text: Widget, Sendable {
    /// The text; "\n" starts a new row.
    public var content: String
    /// Style of the text.
    public var style: Style
    /// Alignment of each line.
    public var alignment: TextAlignment
    /// Glyphs allowed for the ellipsis.
    public var mode: DisplayMode

    /// Creates a text widget.
    public init(_ content: String, style: Style = .plain, alignment: TextAlignment = .left, mode: DisplayMode = .full) {
        self.content = content
        self.style = style
        self.alignment = alignment
        self.mode = mode
    }

    /// Draws each line in its row; lines beyond the area's height are dropped.
    public func render(in area: Rect, into buffer: inout ScreenBuffer) {
        guard !area.isEmpty else { return }
        let lines = content.split(separator: "\n", omittingEmptySubsequences: false)
        for (row, line) in lines.prefix(area.height).enumerated() {
            let fitted = Text.truncate(String(line), width: area.width, glyphs: mode.glyphs)
            let used = DisplayWidth.of(fitted)
            let offset: Int
            switch alignment {
            case .left: offset = 0
            case .center: offset = (area.width - used) / 2
            case .right: offset = area.width - used
            }
            buffer.put(fitted, at: area.x + offset, y: area.y + row, style: style, clip: area)
        }
    }

    /// `text` cut to `width` columns, ending in "…" (or "...") when something was cut.
    public static func truncate(_ text: String, width: Int, glyphs: GlyphMode) -> String {
        guard width > 0 else { return "" }
        if DisplayWidth.of(text) <= width { return text }
        let ellipsis = glyphs == .unicode ? "…" : "..."
        let ellipsisWidth = DisplayWidth.of(ellipsis)
        let room = width >= ellipsisWidth ? width - ellipsisWidth : width
        var kept = ""
        var used = 0
        for character in text {
            let w = DisplayWidth.of(character)
            if used + w > room { break }
            kept.append(character)
            used += w
        }
        return width >= ellipsisWidth ? kept + ellipsis : kept
    }
}
