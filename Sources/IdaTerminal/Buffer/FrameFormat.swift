/// How a headless frame is written: its rows as plain text, or an SVG picture with the colours.
public enum FrameFormat: String, CaseIterable, Sendable {
    /// The cell text, one line per row, trailing spaces trimmed (what the frame says).
    case text
    /// `ScreenBuffer.svg()` (what the frame looks like).
    case svg

    /// Whether the views should draw for a reader of text: styles are lost there, so what colour
    /// alone shows (a heatmap's cells) is drawn in glyphs too (`DisplayMode.textOnly`).
    public var textOnly: Bool { self == .text }

    /// `buffer` in this format, as a whole file (ending in a newline).
    public func document(_ buffer: ScreenBuffer) -> String {
        switch self {
        case .text: return buffer.text(trimTrailingSpaces: true) + "\n"
        case .svg: return buffer.svg()
        }
    }
}
