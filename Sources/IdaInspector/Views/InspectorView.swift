import IdaTerminal

/// Draws the whole inspector for `state` into `buffer` (its size is the terminal's).
public enum InspectorView {
    /// Smallest terminal the screens are laid out for; below it a "terminal too small" message is drawn.
    public static let minimumSize = (width: 60, height: 16)

    /// Renders tab bar, the current screen, footer hints and the help overlay.
    public static func render(_ state: InspectorState, mode: DisplayMode, into buffer: inout ScreenBuffer) {
        let area = buffer.bounds
        guard area.width >= minimumSize.width, area.height >= minimumSize.height else {
            renderTooSmall(area, mode: mode, into: &buffer)
            return
        }
        let theme = Theme(mode)
        let rows = area.rows([.fixed(1), .fixed(1), .fill(1), .fixed(1)])
        ChromeView.renderTabBar(state, theme: theme, row: rows[0], into: &buffer)
        ChromeView.renderTitle(state, theme: theme, row: rows[1], into: &buffer)
        let body = bodyArea(in: area)
        if state.split, let comparison = state.comparison {
            CompareView.render(state, comparison: comparison, theme: theme, in: body, into: &buffer)
        } else {
            renderScreen(state, theme: theme, in: body, into: &buffer)
        }
        ChromeView.renderFooter(state, theme: theme, row: rows[3], into: &buffer)
        if state.showHelp { HelpView.render(theme: theme, in: body, into: &buffer) }
    }

    /// The current screen of `state` over `area`; `marks` are the differences one half of the split
    /// view draws (nil: not split).
    static func renderScreen(_ state: InspectorState, marks: CompareMarks? = nil, theme: Theme, in area: Rect,
                             into buffer: inout ScreenBuffer) {
        switch state.screen {
        case .overview: OverviewView.render(state, theme: theme, in: area, into: &buffer)
        case .layer: LayerView.render(state, marks: marks, theme: theme, in: area, into: &buffer)
        case .latent: LatentView.render(state, theme: theme, in: area, into: &buffer)
        case .tokens: TokensView.render(state, marks: marks, theme: theme, in: area, into: &buffer)
        case .timeline: TimelineView.render(state, theme: theme, in: area, into: &buffer)
        }
    }

    /// The rectangle screens draw in: everything between the title line and the footer.
    public static func bodyArea(in area: Rect) -> Rect {
        area.rows([.fixed(1), .fixed(1), .fill(1), .fixed(1)])[2]
    }

    /// "terminal too small: WxH, need 60x16", centred; split over two lines when narrow.
    static func renderTooSmall(_ area: Rect, mode: DisplayMode, into buffer: inout ScreenBuffer) {
        guard !area.isEmpty else { return }
        let first = "terminal too small: \(area.width)x\(area.height)"
        let second = "need \(minimumSize.width)x\(minimumSize.height)"
        let whole = first + ", " + second
        let lines: [String]
        if DisplayWidth.of(whole) <= area.width || area.height < 2 {
            lines = [whole]
        } else if DisplayWidth.of(first) <= area.width || area.height < 3 {
            lines = [first, second]
        } else {
            lines = ["terminal too small", "\(area.width)x\(area.height)", second]
        }
        let top = area.y + max(0, (area.height - lines.count) / 2)
        for (i, line) in lines.enumerated() {
            Text(line, style: Style(bold: true), alignment: .center, mode: mode)
                .render(in: Rect(x: area.x, y: top + i, width: area.width, height: 1), into: &buffer)
        }
    }
}
