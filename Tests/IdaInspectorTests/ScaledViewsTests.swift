import Foundation
import IdaTerminal
import Testing
@testable import IdaInspector

@Suite("Inspector at scale: paging, jumps, order, compressed cells (48 layers x 128 experts, literal data)")
struct ScaledViewsTests {
    func render(_ state: InspectorState, mode: DisplayMode = .full) -> String {
        var buffer = ScreenBuffer(width: state.width, height: state.height)
        InspectorView.render(state, mode: mode, into: &buffer)
        return buffer.text()
    }

    @Test("list windows page around the focus and say where they are")
    func listWindow() {
        let w = ListWindow(total: 48, visible: 11, focus: 30)
        #expect(w.range == 22..<33 && w.label("layers", unicode: true) == "layers 22-32 of 48 ▲▼")
        #expect(ListWindow(total: 48, visible: 11, focus: 47).range == 37..<48)
        #expect(ListWindow(total: 48, visible: 11, focus: 47).label("layers", unicode: false) == "layers 37-47 of 48 ^")
        #expect(ListWindow(total: 5, visible: 11, focus: 3).label("layers", unicode: true) == "")
        #expect(ListWindow(total: 5, visible: 0, focus: 3).count == 0)
        #expect(ListWindow(total: 0, visible: 4, focus: 0).range.isEmpty)
    }

    @Test("golden: overview and layer screens of 48 x 128 at 120x40 and 80x24")
    func golden() {
        var state = ScaledFixture.state(screen: .overview)
        state.layerIndex = 30
        state.selectedExpert = 77
        var frames = ViewsFixture.frames(state, sizes: [(120, 40), (80, 24)])
        state.screen = .layer
        frames += ViewsFixture.frames(state, sizes: [(120, 40), (80, 24)])
        expectViewSnapshot(frames, named: "scaled-overview-layer")
    }

    @Test("the overview pages its layers with the shown one, compresses experts, and prints the selection's share")
    func overviewPaging() {
        var state = ScaledFixture.state(screen: .overview)
        let first = render(state)
        #expect(first.contains("▶ L0") && first.contains("layers 0-") && first.contains("of 48 ▼"), "\(first)")
        #expect(first.contains("/cell, furthest from fair"), "\(first)")
        #expect(!first.contains("L47"))
        for _ in 0..<47 { _ = state.update(.key(.character("j"))) }
        #expect(state.layerIndex == 47)
        let last = render(state)
        #expect(last.contains("▶ L47") && last.contains("of 48 ▲") && !last.contains("▶ L0"), "\(last)")
        state.receive(.key(.pageUp))
        #expect(state.layerIndex == 47 - InspectorView.geometry(state).layersPerPage)
        state.selectedExpert = 77
        // Load of e77 on layer 17 (after PgUp from 47 at 120x40): weight over the layer's total.
        let shown = render(state)
        #expect(shown.contains("L\(state.layerIndex) e77 "), "\(shown)")
    }

    @Test("a click on a compressed cell selects the expert the cell stands for, on the row's layer")
    func compressedClick() {
        var state = ScaledFixture.state(screen: .overview)
        state.layerIndex = 20
        let matrix = LoadMatrix.from(state)
        let text = render(state).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let y = text.firstIndex(where: { $0.contains("▶ L20") }), let matrix else {
            Issue.record("no row for L20")
            return
        }
        // The first cell (column 8, after the border and the 7-column label) holds the first experts.
        guard case let .layerExpert(index, expert)? = InspectorView.target(atX: 8, y: y, state: state) else {
            Issue.record("click on the first cell of L20 hit nothing")
            return
        }
        #expect(index == 20)
        let load = matrix.loads[20]
        let fair = 1 / 128.0
        func distance(_ e: Int) -> Double { load[e] > 0 ? abs(log(load[e] / fair)) : .infinity }
        let cell = render(state).contains("3/cell") ? [0, 1, 2] : [0, 1]
        let expected = cell.max { distance($0) < distance($1) }
        #expect(expert == expected)
        _ = state.update(.click(.layerExpert(layerIndex: index, expert: expert)))
        #expect(state.selectedExpert == expert && state.message?.contains("e\(expert): load") == true)
    }

    @Test("the layer screen pages experts with the selection: j, k, PgDn, the wheel")
    func layerPaging() {
        var state = ScaledFixture.state(screen: .layer)
        let first = render(state)
        #expect(first.contains("load · experts 0-") && first.contains("of 128 ▼"), "\(first)")
        _ = state.update(.key(.character("j")))
        #expect(state.selectedExpert == 0)
        state.receive(.key(.pageDown))
        let page = InspectorView.geometry(state).expertsPerPage
        #expect(page > 5 && state.selectedExpert == page)
        let second = render(state)
        #expect(second.contains("experts \(page)-") && second.contains("▲▼"), "\(second)")
        state.wheel(up: false)
        #expect(state.selectedExpert == page + 1)
        for _ in 0..<200 { _ = state.update(.key(.character("j"))) }
        #expect(state.selectedExpert == 127)
        let last = render(state)
        #expect(last.contains("e127") && last.contains("of 128 ▲"), "\(last)")
        // The prior heatmap follows the selection too.
        #expect(last.contains("priors π · experts"), "\(last)")
    }

    @Test("/ jumps to an expert or a layer; a wrong name is a one-line message")
    func jump() throws {
        var state = ScaledFixture.state(screen: .layer)
        for key in try Key.sequence("/ e 9 9 Enter") { _ = state.update(.key(key)) }
        #expect(state.selectedExpert == 99 && state.prompt == nil)
        #expect(render(state).contains("e99"))
        for key in try Key.sequence("/ L 4 0 Enter") { _ = state.update(.key(key)) }
        #expect(state.layerIndex == 40 && state.layer == 40)
        _ = state.update(.key(.character("/")))
        #expect(render(state).contains("go to "))
        for key in try Key.sequence("x Enter") { _ = state.update(.key(key)) }
        #expect(state.message?.contains("no expert") == true && state.message?.contains("\n") == false)
        for key in try Key.sequence("/ L 9 9 Enter") { _ = state.update(.key(key)) }
        #expect(state.layerIndex == 40 && state.message?.contains("L0...L47") == true)
        // On the tokens screen / still searches the text.
        state.screen = .tokens
        _ = state.update(.key(.character("/")))
        #expect(state.prompt == .search(""))
    }

    @Test("o orders experts by load (layer screen) and layers by probe CV (overview)")
    func order() {
        var state = ScaledFixture.state(screen: .layer)
        _ = state.update(.key(.character("o")))
        #expect(state.order == .load)
        guard let load = state.layerAnalysis?.metrics.load, let top = state.expertOrder.first else {
            Issue.record("no order")
            return
        }
        #expect(load[top] == load.max())
        let text = render(state).split(separator: "\n").map(String.init)
        #expect(text.first { $0.contains("fair 1/E") }.map { _ in true } == true)
        let firstBar = text.first { $0.hasPrefix("│e") }
        #expect(firstBar?.hasPrefix("│e\(top) ") == true, "\(text.joined(separator: "\n"))")
        _ = state.update(.key(.character("o")))
        #expect(state.order == .cv)
        state.screen = .overview
        let rows = state.layerRowOrder
        let cvs = rows.compactMap { state.analysis?.layers[$0]?.metrics.cv }
        #expect(cvs == cvs.sorted(by: >))
        #expect(render(state).contains("layers by probe CV"))
    }

    @Test("latent: the selected expert's ellipses only, the other means shaded; tokens: the top of q")
    func latentAndTokens() {
        var state = ScaledFixture.state(screen: .latent, width: 120, height: 50)
        state.selectedExpert = 5
        let latent = render(state)
        #expect(latent.contains("e5's 4/512"), "\(latent)")
        #expect(latent.contains("░") || latent.contains("▒") || latent.contains("▓"))
        #expect(LatentView.shownComponents(state.layerAnalysis!, expert: 5) == [20, 21, 22, 23])
        state.screen = .tokens
        let tokens = render(state)
        #expect(tokens.contains("q (expert distribution)") || tokens.contains("of 128 experts"), "\(tokens)")
        state.height = 24
        #expect(render(state).contains("q: top"), "\(render(state))")
    }

    @Test("many starved experts in a layer make one alert per layer")
    func starvedAlerts() {
        let state = ScaledFixture.state(screen: .overview)
        let alerts = Alert.all(for: state)
        // Eight experts per layer have no load (e with (e + l) % 16 == 0).
        #expect(alerts.contains { $0.text.hasPrefix("layer 0: 8 experts starved") })
        #expect(!alerts.contains { $0.text.hasPrefix("layer 0 expert 0 starved") })
    }
}

@Suite("Layer-first analysis: progress events")
struct AnalysisProgressTests {
    @Test("progress shows the layers analysed so far for the step being analysed; stale progress is ignored")
    func progress() {
        var s = InspectorState(title: "t", live: true)
        s.width = 120
        s.height = 40
        #expect(s.update(.snapshots([100])) == [.analyze(step: 100)])
        var partial = ScaledFixture.analysis(layers: 6, experts: 8)
        partial.layers = partial.layers.filter { $0.key == 0 || $0.key == 1 }
        #expect(s.update(.analysisProgress(step: 100, partial)) == [])
        #expect(s.analysis?.layers.count == 2 && s.analyzing == 100)
        var buffer = ScreenBuffer(width: 120, height: 40)
        InspectorView.render(s, mode: .full, into: &buffer)
        #expect(buffer.text().contains("2/6 layers") && buffer.text().contains("analysing 2/6"), "\(buffer.text())")
        // A layer still to do says so on the layer screen.
        s.screen = .layer
        s.layerIndex = 4
        InspectorView.render(s, mode: .full, into: &buffer)
        #expect(buffer.text().contains("layer 4 is being analysed (2/6 layers done)"), "\(buffer.text())")
        s.screen = .overview
        s.layerIndex = 0
        // Progress of another step (a stale worker) changes nothing.
        var other = partial
        other.layers = [:]
        _ = s.update(.analysisProgress(step: 50, other))
        #expect(s.analysis?.layers.count == 2)
        _ = s.update(.analyzed(step: 100, result: .success(ScaledFixture.analysis(layers: 6, experts: 8))))
        #expect(s.analysis?.isComplete == true && s.analyzing == nil)
        InspectorView.render(s, mode: .full, into: &buffer)
        #expect(!buffer.text().contains("analysing"))
    }
}
