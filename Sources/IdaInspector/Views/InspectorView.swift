import IdaTerminal

/// Draws the whole inspector for `state` into `buffer` (its size is the terminal's).
public enum InspectorView {
    /// Smallest terminal the screens are laid out for; below it a "terminal too small" message is drawn.
    public static let minimumSize = (width: 60, height: 16)

    /// Renders tab bar, the current screen, footer hints and the help overlay.
    public static func render(_ state: InspectorState, mode: DisplayMode, into buffer: inout ScreenBuffer) {
        let area = Rect(x: 0, y: 0, width: buffer.width, height: buffer.height)
        guard area.width >= minimumSize.width, area.height >= minimumSize.height else {
            let text = "terminal too small: \(area.width)x\(area.height), need \(minimumSize.width)x\(minimumSize.height)"
            Text(text, style: .plain, mode: mode).render(in: area, into: &buffer)
            return
        }
        Text("\(state.screen.title)", style: .plain, mode: mode).render(in: area, into: &buffer)
    }
}
