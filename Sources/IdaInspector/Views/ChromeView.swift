import IdaRouting
import IdaTerminal

/// The rows around every screen: the tab bar with the run status (row 0), the title line (row 1)
/// and the footer (last row) with key hints, the search prompt or a message.
enum ChromeView {
    /// Draws the tabs from `TabBar.labels` starting at column 0 (so mouse hit-testing matches)
    /// and the status right-aligned in what is left of the row.
    static func renderTabBar(_ state: InspectorState, theme: Theme, row: Rect, into buffer: inout ScreenBuffer) {
        var x = row.x
        for (screen, label) in TabBar.labels {
            let style = screen == state.screen ? theme.selected : theme.muted
            x = buffer.put(label, at: x, y: row.y, style: style, clip: row)
        }
        let rest = Rect(x: x + 1, y: row.y, width: row.maxX - x - 1, height: 1)
        guard rest.width > 0 else { return }
        // Tighten the spacing, then drop the least important parts, until the status fits; last, the
        // run's state in a word.
        var candidates: [[(String, Style)]] = []
        var parts = statusParts(state, theme: theme)
        while !parts.isEmpty {
            candidates.append(parts)
            parts.removeLast()
        }
        if let short = shortRunState(state, theme: theme) { candidates.append([short]) }
        for parts in candidates {
            for gap in ["  ", " "] {
                var line = StyledLine(mode: theme.mode)
                for (i, part) in parts.enumerated() {
                    if i > 0 { line.append(gap) }
                    line.append(part.0, part.1)
                }
                if line.width <= rest.width {
                    line.renderRight(in: rest, into: &buffer)
                    return
                }
            }
        }
    }

    /// Status pieces, most important first: the run's state, the selected step, work under way.
    static func statusParts(_ state: InspectorState, theme: Theme) -> [(String, Style)] {
        var parts: [(String, Style)] = []
        if let run = runState(state, theme: theme) { parts.append(run) }
        if let step = shownStep(state) { parts.append(("step \(step)", theme.strong)) }
        if state.analyzing != nil {
            // A partial analysis on screen is this step's (progress is shown only for the step analysed).
            let done = state.analysis.map { $0.isComplete ? "" : " \($0.layers.count)/\($0.layerOrder.count)" } ?? ""
            parts.append(("analysing" + done + theme.ellipsis, theme.info))
        }
        return parts
    }

    /// What the run is doing: a checkpoint is static; a run is finished once its log says `done`,
    /// live only while a writer holds its lock (docs/format.md, "One writer": paused when the view
    /// stays on an older snapshot), otherwise stopped where its log ends. Nil before the lock was asked.
    static func runState(_ state: InspectorState, theme: Theme) -> (String, Style)? {
        guard state.live else { return ("static", theme.muted) }
        if state.history.finished { return ("finished", theme.info) }
        switch state.writer {
        case RunLock.Writer.live?:
            return state.following ? (theme.liveMark + " live", theme.good) : ("paused", theme.warn)
        case RunLock.Writer.none?:
            let at = state.history.latest.map { "at step \($0.step)" } ?? "before its first step"
            return ("stopped \(at), no writer", theme.warn)
        case RunLock.Writer.unknown?:
            return ("writer unknown", theme.warn)
        case nil:
            return nil
        }
    }

    /// The run's state in one word, for a tab bar too narrow for `runState`.
    static func shortRunState(_ state: InspectorState, theme: Theme) -> (String, Style)? {
        guard state.live, !state.history.finished, state.writer == RunLock.Writer.none else { return nil }
        return ("stopped", theme.warn)
    }

    /// The step the screens show: the selected snapshot of a run, the checkpoint's own step otherwise.
    static func shownStep(_ state: InspectorState) -> Int? {
        state.live ? state.selectedStep : (state.analysis?.step ?? state.selectedStep)
    }

    /// The title line: what is inspected, the router's shape, the MoE layer and throughput.
    static func renderTitle(_ state: InspectorState, theme: Theme, row: Rect, into buffer: inout ScreenBuffer) {
        var line = StyledLine(mode: theme.mode)
        line.append(state.title, theme.strong)
        if let live = state.liveText {
            line.append(theme.dot + "live text @ step \(live.step) (Escape: probe)", theme.warn)
        }
        if let analysis = state.analysis {
            line.append(theme.dot + analysis.router.rawValue + " router", .plain)
        }
        if let settings = state.settings { line.append(theme.dot + settings, theme.muted) }
        if let la = state.layerAnalysis {
            var shape = "E=\(la.experts)"
            if la.componentsPerExpert > 0 { shape += " M=\(la.componentsPerExpert)" }
            if let p = la.projection?.center.count { shape += " P=\(p)" }
            line.append(theme.dot + shape, .plain)
        }
        if let layer = state.layer, let order = state.analysis?.layerOrder {
            let index = order.firstIndex(of: layer) ?? 0
            line.append(theme.dot + "layer \(layer) (\(index + 1)/\(order.count))", theme.info)
        }
        if let rate = state.history.latest?.tokensPerSecond, rate.isFinite {
            line.append(theme.dot + ViewFormat.rate(rate) + " tok/s", .plain)
        }

        if let pinned = state.pinnedStep {
            line.append(theme.dot + theme.pinMark + " pinned \(pinned)", theme.muted)
        }
        line.render(in: row, into: &buffer)
    }

    /// The footer: the open prompt, else the message, else the screen's key hints.
    static func renderFooter(_ state: InspectorState, theme: Theme, row: Rect, into buffer: inout ScreenBuffer) {
        if let prompt = state.prompt {
            let (lead, hint): (String, String)
            switch prompt {
            case .search: (lead, hint) = ("/", "   Enter search, Escape cancel")
            case .jump: (lead, hint) = ("go to ", "   e12 expert, L7 layer; Enter go, Escape cancel")
            case .text: (lead, hint) = ("text> ", "   Enter run through the model, Escape cancel")
            }
            StyledLine([(lead, theme.key), (prompt.input, .plain), (theme.unicode ? "█" : "_", theme.key), (hint, theme.muted)],
                       mode: theme.mode).render(in: row, into: &buffer)
            return
        }
        if let message = state.message {
            buffer.fill(row, style: theme.message)
            Text(" " + message, style: theme.message, mode: theme.mode).render(in: row, into: &buffer)
            return
        }
        footerHints(state.screen, theme: theme, width: row.width).render(in: row, into: &buffer)
    }

    /// "Tab next screen  ] next MoE layer ..." from the key table: whole hints in table order while
    /// they fit, always keeping room for the help hint so every other key stays one press away.
    static func footerHints(_ screen: Screen, theme: Theme, width: Int) -> StyledLine {
        let hints = KeyTable.footer(for: screen)
        let helpKeys = KeyTable.bindings.first { $0.action == .toggleHelp }.map { KeyTable.displayName($0.keys) }
        let help = hints.first { $0.0 == helpKeys }
        func cost(_ hint: (String, String)) -> Int { DisplayWidth.of("  " + hint.0 + " " + hint.1) }
        let total = hints.reduce(0) { $0 + cost($1) } - 2
        let reserve = total > width ? help.map(cost) ?? 0 : 0
        var chosen: [(String, String)] = []
        var used = -2
        for hint in hints where hint.0 != helpKeys || reserve == 0 {
            guard used + cost(hint) + reserve <= width else { break }
            chosen.append(hint)
            used += cost(hint)
        }
        if reserve > 0, let help, used + cost(help) <= width { chosen.append(help) }
        var line = StyledLine(mode: theme.mode)
        for (i, hint) in chosen.enumerated() {
            if i > 0 { line.append("  ") }
            line.append(hint.0, theme.key)
            line.append(" " + hint.1, .plain)
        }
        return line
    }
}
