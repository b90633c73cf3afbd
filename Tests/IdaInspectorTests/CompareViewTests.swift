import IdaNumerics
import IdaAnalysis
import IdaRouting
import IdaTerminal
import Testing
@testable import IdaInspector

/// Comparison mode: `c` pins a step, `|` splits the screens into A | B, differences are marked.
@Suite("Inspector comparison")
struct CompareViewTests {
    /// The fixture's checkpoint at step 100 with component 6 revived and component 2 starved (no BLAS:
    /// only priors change).
    static func checkpointB() throws -> RouterCheckpoint {
        let a = try ViewsFixture.checkpoint(step: 100)
        var routers = a.routers
        for (layer, router) in a.routers {
            guard case var .ida(r) = router else { continue }
            r.gmm.logits[6] = 0.6
            r.gmm.logits[2] = -12
            routers[layer] = .ida(r)
        }
        return RouterCheckpoint(info: a.info, routers: routers)
    }

    /// A state comparing the fixture (A, step 300) with `checkpointB` (pinned step 100), split.
    static func state(screen: Screen) throws -> InspectorState {
        var s = try ViewsFixture.state(screen: screen)
        let probe = try ViewsFixture.probe()
        let a = try ViewsFixture.checkpoint(), b = try checkpointB()
        let options = ComparisonOptions(sameRun: true, domains: probe.domainIDs(), domainNames: probe.domainNames)
        // As the inspector compares: from the two analyses (here both recorded), never routing again.
        let analysisA = try ViewsFixture.analysis(), analysisB = try ViewsFixture.analysis(of: b, recordedAs: "views-ida-b")
        var layers: [Int: LayerComparison] = [:]
        for i in analysisA.layerOrder {
            guard let la = analysisA.layers[i], let lb = analysisB.layers[i], let ra = a.routers[i], let rb = b.routers[i] else { continue }
            layers[i] = try LayerComparison(LayerRoutingSummary(la, router: ra), LayerRoutingSummary(lb, router: rb), options: options)
        }
        let result = ComparisonResult(analysis: analysisB, layers: layers, step: 100, sameRun: true)
        s.pinnedStep = 100
        s.comparison = CompareState(target: .step(100))
        s.comparison?.result = result
        s.comparison?.forStep = 300
        s.split = true
        return s
    }

    @Test("c pins the shown step and asks for the comparison when another step is shown; c again unpins")
    func pinning() throws {
        var s = try ViewsFixture.state(screen: .layer)
        #expect(s.update(.key(.character("c"))) == [.compare(stepA: 300, target: .step(300))])
        #expect(s.pinnedStep == 300 && s.split && s.comparison?.running == true)
        // While one runs, moving A does not start another; when it lands, the newer A is compared.
        #expect(s.update(.key(.left)) == [.analyze(step: 200)])
        let result = try Self.state(screen: .layer).comparison!.result!
        #expect(s.update(.compared(stepA: 300, target: .step(300), result: .success(result))) ==
                [.compare(stepA: 200, target: .step(300))])
        #expect(s.layerComparison == nil)  // the result is for step 300, A now shows 200
        #expect(s.update(.analyzed(step: 200, result: .success(try ViewsFixture.analysis()))) == [])
        _ = s.update(.compared(stepA: 200, target: .step(300), result: .failure(AnalysisFailure("B: broken"))))
        #expect(s.message == "B: broken" && s.comparison?.running == false)
        _ = s.update(.key(.character("|")))
        #expect(!s.split)
        _ = s.update(.key(.right))
        _ = s.update(.analyzed(step: 300, result: .success(try ViewsFixture.analysis())))
        _ = s.update(.key(.character("c")))
        #expect(s.comparison == nil && s.pinnedStep == nil && !s.split)
        _ = s.update(.key(.character("|")))
        #expect(s.message?.hasPrefix("nothing to compare") == true)
    }

    @Test("the summary leads with agreement and names died and revived components; B's half shows deltas")
    func layerScreen() throws {
        let s = try Self.state(screen: .layer)
        let lc = try #require(s.layerComparison)
        #expect(lc.components?.revived.contains(6) == true && lc.components?.died.contains(2) == true)
        let frames = ViewsFixture.frames(s, sizes: [(160, 40), (80, 24)])
        let text = frames[0].1.text()
        #expect(text.contains(" A · step 300") && text.contains(" B · step 100"))
        #expect(text.contains("died k2 e0") && text.contains("revived k6 e2"))
        #expect(text.contains("Δπ B − A") && text.contains("load · Δ vs A"))
        expectViewSnapshot(frames, named: "compare-layer")
    }

    @Test("tokens whose top-1 expert changed are underlined in both halves")
    func tokens() throws {
        let s = try Self.state(screen: .tokens)
        let a = try #require(s.layerAnalysis), b = try #require(s.comparison?.result?.analysis.layers[1])
        let changed = try #require(CompareView.changedTop1(a, b, s.layerComparison))
        let first = try #require(changed.firstIndex(of: true))
        let same = try #require(changed.firstIndex(of: false))
        var buffer = ScreenBuffer(width: 160, height: 40)
        InspectorView.render(s, mode: .full, into: &buffer)
        // Token i of the probe sits at its layout position inside each half's text panel.
        let half = 80
        for (index, expected) in [(first, true), (same, false)] where index != s.cursor {
            let geometry = TokensView.Geometry(s, mode: .full, area: Rect(x: 0, y: 4, width: half, height: 35))
            let slot = geometry.layout.slots[index]
            guard slot.line >= geometry.firstLine, slot.line - geometry.firstLine < geometry.text.height else { continue }
            let y = geometry.text.y + slot.line - geometry.firstLine
            for x in [geometry.text.x + slot.column, half + geometry.text.x + slot.column] {
                #expect(buffer.cell(x: x, y: y)?.style.underline == expected, "token \(index) at \(x),\(y)")
            }
        }
        expectViewSnapshot(ViewsFixture.frames(s, sizes: [(160, 40)]), named: "compare-tokens")
    }

    @Test("every screen splits without overlap at small sizes; clicks in the halves do nothing")
    func everyScreen() throws {
        for screen in Screen.allCases {
            var s = try Self.state(screen: screen)
            for (w, h) in [(60, 16), (100, 30), (200, 60)] {
                s.width = w
                s.height = h
                var buffer = ScreenBuffer(width: w, height: h)
                InspectorView.render(s, mode: .full, into: &buffer)
                #expect(buffer.text().contains(" B · step 100"), "\(screen) \(w)x\(h)")
                #expect(InspectorView.target(atX: w / 4, y: h / 2, state: s) == nil)
            }
        }
    }

    /// B as another run (`--compare RUN2`): a softmax-like log whose held-out CV stays high, with
    /// snapshots at 150 and 300.
    static func otherRun() -> RunHistory {
        var lines = [#"{"v":1,"step":0,"time":0,"kind":"start","domains":["prose","code"]}"#]
        for i in 1...30 {
            let step = i * 10
            lines.append(#"{"v":1,"step":\#(step),"time":\#(i),"kind":"step","loss":2,"cv_mean":\#(0.5 + Double(i) / 30),"layers":[]}"#)
            if step % 50 == 0 {
                lines.append(#"{"v":1,"step":\#(step),"time":\#(i),"kind":"eval","val_bpb":3,"heldout_cv_mean_top1":1.3,"#
                    + #""heldout_cv_mean_topk":\#(0.6 + Double(step) / 1000),"heldout_cv_mean_gate":1.1}"#)
            }
            if step % 150 == 0 { lines.append(#"{"v":1,"step":\#(step),"time":\#(i),"kind":"snapshot","path":"x"}"#) }
        }
        return ViewsFixture.history(lines)
    }

    @Test("Timeline with B another run: both runs' CV curves on one plot with a legend per run, each run's table in its half")
    func timelineTwoRuns() throws {
        var s = try ViewsFixture.state(screen: .timeline)
        s.comparison = CompareState(target: .checkpoint("runs/softmax"))
        s.comparison?.otherHistory = Self.otherRun()
        s.split = true
        // Before any comparison has finished, B's log read at setup already gives its curves.
        var frames = ViewsFixture.frames(s, sizes: [(120, 40)])
        let text = frames[0].1.text()
        #expect(text.contains("A runs/demo  ── held-out CV 0.200 @300"))
        #expect(text.contains("B runs/softmax  ── held-out CV 0.900 @300 (top-1 1.300, gate 1.100)"))
        #expect(text.contains("snapshots (2)"))  // B's own table: steps 150 and 300
        // A's and B's held-out curves in their own colours on the same rows of the plot.
        let colours = Set(frames[0].1.cells.filter { $0.text.unicodeScalars.allSatisfy { (0x2801...0x28FF).contains($0.value) } }
            .compactMap(\.style.fg))
        let theme = Theme(.full)
        #expect(colours.isSuperset(of: [theme.seriesColor(0), theme.seriesColor(1)]))
        // Unsplit, the Timeline keeps B's curves; with a same-run B (a pinned step) only A's.
        s.split = false
        frames += ViewsFixture.frames(s, sizes: [(80, 24)])
        #expect(frames[1].1.text().contains("B runs/softmax"))
        var same = try Self.state(screen: .timeline)
        same.split = false
        #expect(!ViewsFixture.frames(same, sizes: [(80, 24)])[0].1.text().contains("B "))
        s.split = true
        frames += ViewsFixture.frames(s, sizes: [(60, 16)])
        expectViewSnapshot(frames, named: "compare-timeline")
    }
}
