import IdaAnalysis
import IdaRouting
import IdaTerminal

/// Differences drawn on one half of the split view.
struct CompareMarks: Sendable {
    /// Tokens whose top-1 expert differs between A and B (after matching experts when their indices
    /// are not comparable) [N].
    var changed: [Bool]?
    /// This side's load minus A's, per expert (B's half only).
    var loadDelta: [Double]?
    /// This side's priors minus A's, per component (B's half only, equal K).
    var priorDelta: [Double]?
}

/// Any screen split into A | B: the shown snapshot on the left, the comparison target on the right,
/// with the same layer, cursor and zoom, a summary of the agreement above, and differences marked
/// (changed top-1 tokens, load deltas, the prior heatmap of differences).
enum CompareView {
    /// Summary rows, then the two halves.
    static func render(_ state: InspectorState, comparison c: CompareState, theme: Theme, in area: Rect,
                       into buffer: inout ScreenBuffer) {
        let rows = area.rows([.fixed(2), .fill(1)])
        let halves = rows[1].columns([.fill(1), .fill(1)])
        let ready = c.forStep == state.selectedStep ? c.result : nil
        let lc = ready.flatMap { r in state.layer.flatMap { r.layers[$0] } }
        let aStep = state.selectedStep.map { "step \($0)" } ?? "checkpoint"
        let aSettings = ready?.settings != nil ? state.settings.map { theme.dot + $0 } ?? "" : ""
        let basis = ready.map { r -> String in
            switch r.basis {
            case .ownProbes: return theme.dot + "same tokens, each model"
            case .text: return theme.dot + "one text, each model"
            case .sharedHidden: return theme.dot + "one probe's hidden states"
            }
        } ?? ""
        let bSettings = ready?.settings.map { theme.dot + $0 } ?? ""
        // The basis (what is compared) follows A's step, where it is never cut: B's header holds a path.
        Text(" A" + theme.dot + aStep + basis + aSettings + " ", style: theme.selected, mode: theme.mode)
            .render(in: Rect(x: halves[0].x, y: rows[0].y, width: halves[0].width, height: 1), into: &buffer)
        Text(" B" + theme.dot + c.label + bSettings + " ", style: theme.selected, mode: theme.mode)
            .render(in: Rect(x: halves[1].x, y: rows[0].y, width: halves[1].width, height: 1), into: &buffer)
        summaryLine(lc, running: c.running, theme: theme).render(in: rows[0].row(1), into: &buffer)
        if state.screen == .timeline {
            renderTimeline(state, comparison: c, theme: theme, in: rows[1], into: &buffer)
            return
        }

        var a = state
        a.split = false
        let marksA = CompareMarks(changed: changedTop1(state.layerAnalysis, ready.flatMap { r in state.layer.flatMap { r.analysis.layers[$0] } }, lc))
        InspectorView.renderScreen(a, marks: marksA, theme: theme, in: halves[0], into: &buffer)

        guard let r = ready else {
            let inner = Panel.draw("B" + theme.dot + c.label, in: halves[1], theme: theme, into: &buffer)
            let text = c.running ? "comparing" + theme.ellipsis : state.analysis == nil ? "waiting for A" + theme.ellipsis
                : "no comparison for this step yet"
            Panel.placeholder(text, in: inner, style: theme.muted, mode: theme.mode, into: &buffer)
            return
        }
        var b = state
        b.split = false
        b.analysis = r.analysis
        b.selectedStep = r.step ?? state.selectedStep
        if !r.sameRun {
            b.history = r.history ?? RunHistory()  // B's own log, never A's curves under B's name
            b.live = false
        }
        let marksB = CompareMarks(changed: marksA.changed,
                                  loadDelta: lc.flatMap { l in l.comparableIndices ? l.loadDelta : nil },
                                  priorDelta: lc.flatMap { l in l.comparableIndices ? l.components?.priorChange : nil })
        InspectorView.renderScreen(b, marks: marksB, theme: theme, in: halves[1], into: &buffer)
    }

    /// The Timeline split: each side's snapshot table in its half, and one CV plot across the whole
    /// width with both runs' curves when B is another run (A's alone otherwise).
    static func renderTimeline(_ state: InspectorState, comparison c: CompareState, theme: Theme, in area: Rect,
                               into buffer: inout ScreenBuffer) {
        let runs = TimelineView.curveRuns(state, theme: theme).count
        let tableRows = max(state.snapshots.count, c.bHistory?.snapshots.count ?? 0)
        let parts = area.rows([.fill(1), .fixed(TimelineView.curveHeight(area, runs: runs, tableRows: tableRows))])
        let halves = parts[0].columns([.fill(1), .fill(1)])
        TimelineView.renderList(state, theme: theme, in: halves[0], into: &buffer)
        var b = state
        b.analyzing = nil
        b.pinnedStep = nil
        if let history = c.bHistory {
            b.history = history
            b.snapshots = history.snapshots.sorted()
            b.selectedStep = c.result?.step ?? b.snapshots.last
        } else if case let .step(s) = c.target {
            b.selectedStep = s  // a step of this run: the same table, B's row selected
        } else if c.result?.sameRun != true {
            // A checkpoint outside any run: no log, one snapshot.
            b.history = RunHistory()
            b.snapshots = c.result?.step.map { [$0] } ?? []
            b.selectedStep = c.result?.step
        } else {
            b.selectedStep = c.result?.step
        }
        TimelineView.renderList(b, theme: theme, in: halves[1], into: &buffer)
        TimelineView.renderCurve(state, theme: theme, in: parts[1], into: &buffer)
    }

    /// "layer 1: top-1 agree 69.8% · top-2 Jaccard 0.49 · matched 69.8% / 0.53 · CV 1.00→0.46 · H 0.00→0.04 bits · died k6 · revived -".
    static func summaryLine(_ lc: LayerComparison?, running: Bool, theme: Theme) -> StyledLine {
        var line = StyledLine(mode: theme.mode)
        guard let lc else {
            line.append(running ? " comparing" + theme.ellipsis : " no comparison for this layer and step yet", theme.muted)
            return line
        }
        let arrow = theme.unicode ? "→" : "->"
        let (lead, other) = lc.comparableIndices ? (lc.raw, lc.matched) : (lc.matched, lc.raw)
        line.append(" layer \(lc.layer): ", theme.muted)
        line.append("top-1 agree ", theme.muted)
        line.append(NumberText.percent(lead.top1), lead.top1 < 0.5 ? theme.warn : theme.strong)
        line.append(" · top-\(min(lc.topKA, lc.topKB)) Jaccard ", theme.muted)
        line.append(ViewFormat.fixed2(lead.topKJaccard), theme.strong)
        line.append(lc.comparableIndices ? " · matched " : " · raw indices ", theme.muted)
        line.append(NumberText.percent(other.top1) + " / " + ViewFormat.fixed2(other.topKJaccard), .plain)
        if !lc.comparableIndices { line.append(" (experts matched)", theme.muted) }
        line.append(" · probe CV ", theme.muted)
        line.append(ViewFormat.fixed2(lc.cvA) + arrow + ViewFormat.fixed2(lc.cvB), .plain)
        line.append(" · H ", theme.muted)
        line.append(ViewFormat.fixed2(lc.meanEntropyA) + arrow + ViewFormat.fixed2(lc.meanEntropyB) + " bits", .plain)
        // Component indices mean something only within one run (or the same router copied).
        if let comp = lc.components, lc.comparableIndices {
            let m = max(1, comp.componentsPerExpertB)
            func names(_ ks: [Int]) -> String {
                ks.isEmpty ? "none" : ks.prefix(6).map { "k\($0) e\($0 / m)" }.joined(separator: " ") + (ks.count > 6 ? " " + theme.ellipsis : "")
            }
            line.append(" · died ", theme.muted)
            line.append(names(comp.died), comp.died.isEmpty ? .plain : theme.warn)
            line.append(" · revived ", theme.muted)
            line.append(names(comp.revived), comp.revived.isEmpty ? .plain : theme.good)
        }
        return line
    }

    /// Per token: whether B's top-1 expert differs from A's (A's expert mapped through the matching
    /// when indices are not comparable); nil until both analyses of the layer are there.
    static func changedTop1(_ a: LayerAnalysis?, _ b: LayerAnalysis?, _ lc: LayerComparison?) -> [Bool]? {
        guard let a, let b, let lc, a.topK > 0, b.topK > 0 else { return nil }
        let n = min(a.selected.count / a.topK, b.selected.count / b.topK)
        return (0..<n).map { i in
            let ea = Int(a.selected[i * a.topK]), eb = Int(b.selected[i * b.topK])
            let mapped = lc.comparableIndices ? ea : (ea < lc.matching.count ? lc.matching[ea] ?? -1 : -1)
            return mapped != eb
        }
    }
}
