import IdaFormats
import IdaRouting
import IdaTerminal
import Testing
@testable import IdaInspector

@Suite("Inspector views: layout, styles and data")
struct ViewsBehaviourTests {
    func render(_ state: InspectorState, width: Int = 120, height: Int = 40, mode: DisplayMode = .full) -> ScreenBuffer {
        var buffer = ScreenBuffer(width: width, height: height)
        InspectorView.render(state, mode: mode, into: &buffer)
        return buffer
    }

    @Test("the tab bar is TabBar.labels from column 0, so clicks land on the tab drawn there; the current tab is reversed")
    func tabBar() throws {
        for screen in Screen.allCases {
            let state = try ViewsFixture.state(screen: screen)
            let buffer = render(state)
            let row = buffer.lines()[0]
            #expect(row.hasPrefix(TabBar.labels.map(\.1).joined()))
            var x = 0
            for (s, label) in TabBar.labels {
                #expect(TabBar.screen(at: x) == s)
                #expect(buffer.cell(x: x + 1, y: 0)?.style.reverse == (s == screen))
                x += label.count
            }
        }
    }

    @Test("footer hints come from the key table, whole hints only, the help hint kept")
    func footer() throws {
        let state = try ViewsFixture.state(screen: .tokens)
        let wide = render(state, width: 260).lines(trimTrailingSpaces: true).last ?? ""
        let all = KeyTable.footer(for: .tokens).map { $0.0 + " " + $0.1 }.joined(separator: "  ")
        #expect(wide == all)
        let narrow = render(state, width: 60, height: 16).lines(trimTrailingSpaces: true).last ?? ""
        #expect(narrow.hasSuffix("?/F1 help"))
        #expect(!narrow.contains("…"))
    }

    @Test("help overlay lists every binding of the key table")
    func help() throws {
        var state = try ViewsFixture.state(screen: .overview)
        state.showHelp = true
        let text = render(state).text()
        for binding in KeyTable.bindings {
            #expect(text.contains(KeyTable.displayName(binding.keys)) && text.contains(binding.help), "\(binding.help)")
        }
    }

    @Test("tokens: the detail gives log p(z)'s percentile among the probe's tokens and marks the lowest 1% unusual")
    func densityPercentile() throws {
        var state = try ViewsFixture.state(screen: .tokens)
        let density = try #require(state.layerAnalysis?.logDensity)
        let lowest = try #require(density.indices.min { density[$0] < density[$1] })
        let highest = try #require(density.indices.max { density[$0] < density[$1] })
        state.cursor = lowest
        let low = TokensView.detailLines(state, theme: Theme(.plain)).map(\.plainText).joined(separator: "\n")
        #expect(low.contains("0th %ile") && low.contains("unusual"), "\(low)")
        state.cursor = highest
        let high = TokensView.detailLines(state, theme: Theme(.plain)).map(\.plainText).joined(separator: "\n")
        #expect(high.contains("%ile") && !high.contains("unusual") && !high.contains(" 0th"), "\(high)")
    }

    @Test("tokens: the cursor cell is reversed, scrolled into view, and hit-testing maps it back")
    func tokenCursor() throws {
        for (width, height) in [(120, 40), (80, 24), (60, 16)] {
            for cursor in [0, 10, 150, ViewsFixture.tokens.count - 1] {
                var state = try ViewsFixture.state(screen: .tokens, width: width, height: height)
                state.cursor = cursor
                for mode in [DisplayMode.full, .plain] {
                    let buffer = render(state, width: width, height: height, mode: mode)
                    let screen = Rect(x: 0, y: 0, width: width, height: height)
                    let geometry = TokensView.Geometry(state, mode: mode, area: InspectorView.bodyArea(in: screen))
                    let hits = (0..<height).flatMap { y in (0..<width).map { (x: $0, y: y) } }
                        .filter { geometry.token(x: $0.x, y: $0.y) == cursor }
                    #expect(!hits.isEmpty, "cursor \(cursor) not visible at \(width)x\(height)")
                    for hit in hits { #expect(buffer.cell(x: hit.x, y: hit.y)?.style.reverse == true) }
                    if let hit = hits.first { #expect(TokensView.token(atX: hit.x, y: hit.y, state: state, mode: mode) == cursor) }
                }
            }
        }
    }

    @Test("token layout: newlines end lines, words wrap whole, control bytes are escaped")
    func tokenLayout() {
        let text = "ab cd\nefgh ij\u{1}"
        let layout = TokenLayout(tokens: text.utf8.map { Int32($0) }, vocabulary: .bytes, width: 6, glyphs: .unicode)
        #expect(layout.slots.map(\.line) == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2])
        #expect(layout.slots[5].text == "↵")
        #expect(layout.slots[11].column == 0 && layout.slots[13].text == "\\x01" && layout.slots[13].width == 4)
        #expect(layout.token(line: 1, column: 2) == 8)
        #expect(layout.token(line: 2, column: 5) == 13)
        #expect(layout.firstLine(cursor: 13, rows: 2) == 1)
        let words = TokenLayout(tokens: [Int32(0), 1, 2], vocabulary: .strings(["Hello", " world", "\n"]), width: 8, glyphs: .ascii)
        #expect(words.slots.map(\.line) == [0, 1, 1] && words.slots[2].text == "$")
    }

    @Test("latent frame: fits the points, zooms about the centre, pans by shares of the fitted size")
    func latentFrame() {
        let points = [(0.0, 0.0), (10.0, 20.0)]
        let fit = LatentFrame(points: points, zoom: 1, pan: (0, 0))
        #expect(fit.fitted.x0 == -0.5 && fit.fitted.x1 == 10.5 && fit.fitted.y0 == -1 && fit.fitted.y1 == 21)
        let zoomed = LatentFrame(points: points, zoom: 2, pan: (0.1, -0.1))
        #expect(abs(zoomed.shown.x0 - (5 + 1.1 - 2.75)) < 1e-12 && abs(zoomed.shown.y1 - (10 - 2.2 + 5.5)) < 1e-12)
        #expect(fit.cell(of: (0, 0), columns: 10, rows: 5)?.row == 4)
        #expect(zoomed.cell(of: (0, 0), columns: 10, rows: 5) == nil)
    }

    @Test("alerts: starved experts name layer, expert and share; non-finite loss and high CV are flagged")
    func alerts() throws {
        let lines = [
            #"{"v":1,"step":1,"time":1,"kind":"step","loss":2.0,"cv_mean":1.4,"layers":[{"layer":2,"load":[0.6,0.38,0.015,0.005],"cv":1.2,"entropy":1}]}"#,
            // A non-finite loss is written null (a line without a number for it is skipped: LossFieldTests).
            #"{"v":1,"step":2,"time":2,"kind":"step","loss":null,"cv_mean":1.5,"layers":[{"layer":2,"load":[0.6,0.38,0.015,0.005],"cv":1.2,"entropy":1}]}"#,
        ]
        var state = InspectorState(title: "run", live: true)
        state.history = ViewsFixture.history(lines)
        let texts = Alert.all(for: state).map(\.text)
        #expect(texts.contains("layer 2 expert 2 starved: 1.5% of assignments (fair 25.0%)"))
        #expect(texts.contains("layer 2 expert 3 starved: 0.50% of assignments (fair 25.0%)"))
        #expect(texts.contains("loss is nan at step 2 (first at step 2)"))
        #expect(texts.contains("layer 2 train CV 1.20 > 1.0"))
        #expect(texts.contains("train CV (batch) 1.50 > 1.0 at step 2"))
        #expect(Alert.all(for: state).first?.level == .error)
        #expect(texts.last == "waiting for the first snapshot…")
        #expect(!texts.contains { $0.contains("held-out") })  // no eval logged: nothing said about it
    }

    @Test("timeline rows take the nearest eval and the CV logged at or before the snapshot")
    func timelineRows() throws {
        var state = try ViewsFixture.state(screen: .timeline)
        state.snapshots = [100, 149, 151, 305]
        let rows = TimelineView.rows(state)
        #expect(rows.map { $0.eval?.step } == [100, 100, 200, 300])
        #expect(rows[1].cvMean == state.history.steps.first { $0.step == 140 }?.cvMean)
        #expect(rows[3].dead == 1)
    }

    @Test("rendering is pure and total: the same frame twice, no crash at any size or with out-of-range state")
    func robustness() throws {
        var state = try ViewsFixture.state(screen: .overview)
        state.pinnedStep = 200
        for screen in Screen.allCases {
            state.screen = screen
            for help in [false, true] {
                state.showHelp = help
                for (w, h) in [(0, 0), (1, 1), (60, 16), (61, 17), (75, 20), (99, 30), (100, 30), (200, 60)] {
                    for mode in [DisplayMode.full, .plain, DisplayMode(colors: .eight, glyphs: .unicode)] {
                        #expect(render(state, width: w, height: h, mode: mode) == render(state, width: w, height: h, mode: mode))
                    }
                }
            }
        }
        state.showHelp = false
        state.tokens = []
        state.cursor = 5_000
        state.zoom = 256
        state.pan = (-40, 40)
        for screen in Screen.allCases {
            state.screen = screen
            _ = render(state, width: 70, height: 18)
        }
    }

    @Test("styles: selected snapshot reversed, monochrome frames carry no colour")
    func styles() throws {
        let state = try ViewsFixture.state(screen: .timeline)
        let buffer = render(state, width: 80, height: 24)
        let row = buffer.lines().firstIndex { $0.contains("   300 ") } ?? -1
        #expect(buffer.cell(x: 10, y: row)?.style.reverse == true)
        for screen in Screen.allCases {
            var s = state
            s.screen = screen
            let mono = render(s, width: 80, height: 24, mode: .plain)
            #expect(mono.cells.allSatisfy { $0.style.fg == .default && $0.style.bg == .default })
            #expect(mono.cells.allSatisfy { $0.text.unicodeScalars.allSatisfy(\.isASCII) })
        }
    }

    @Test("reactivation panel: the layer's died / reset / pulled / revived counts head the panel")
    func reactivationCounts() throws {
        var state = try ViewsFixture.state(screen: .layer)
        let extra = [  // the fixture has died, reset, revived in layer 1 and one death in layer 3
            #"{"v":1,"step":260,"time":26,"kind":"reactivation","event":"pulled","layer":1,"component":6,"expert":2,"prior":0.0003}"#,
        ]
        state.history = ViewsFixture.history((ViewsFixture.eventLines + extra).sorted { ViewsFixture.step(of: $0) < ViewsFixture.step(of: $1) })
        let text = render(state).text()
        #expect(text.contains("died 2 · reset 1 · pulled 1 · revived 1"))
        let line = try #require(render(state).lines().first { $0.contains("died 2 · reset") })
        #expect(!line.contains("layer 3"))  // layer 3's own death is not counted here
        state.layerIndex = 1
        #expect(render(state).text().contains("died 1 · reset 0 · revived 0"))  // no pulled logged in layer 3
    }

    @Test("entropy histogram: equal bins over [0, log2 E], end bins take rounding, non-finite values apart; merged shares")
    func entropyHistogram() {
        let h = EntropyHistogram(entropyBits: [0, 0.1, 1.0, 1.99, 2.0, 2.0001, -0.0001, .nan], experts: 4)
        #expect(h.maxBits == 2 && h.tokens == 7 && h.nonFinite == 1)
        #expect(h.shares(bins: 2).map { ($0 * 7).rounded() } == [3, 4])  // [0, 1): 0, 0.1, -0.0001; [1, 2]: the rest
        #expect(h.shares(bins: 4).map { ($0 * 7).rounded() } == [3, 0, 1, 3])
        #expect(EntropyHistogram.divisor(atMost: 7) == 6 && EntropyHistogram.divisor(atMost: 0) == 1)
        #expect(abs(h.mean - (0 + 0.1 + 1 + 1.99 + 2 + 2.0001 - 0.0001) / 7) < 1e-6)
        #expect(EntropyHistogram(entropyBits: [], experts: 8).mean.isNaN)
    }

    @Test("layer screen: the routing-entropy histogram of the shown layer, with its axes; none where there is no room")
    func entropyPanel() throws {
        var state = try ViewsFixture.state(screen: .layer)
        let la = try #require(state.layerAnalysis)
        let h = EntropyHistogram(la)
        let text = render(state).text()
        #expect(text.contains("routing entropy · mean \(ViewFormat.fixed2(h.mean)) bits · ida · \(la.entropy.count) tokens"))
        #expect(text.contains("2.00 bits"))  // log2 E for E = 4 at the right end of the x axis
        let tallest = NumberText.percent(h.shares(bins: LayerView.bins(forWidth: 62)).max() ?? 0)
        #expect(text.contains("│" + tallest + " █"))
        #expect(!render(state, width: 60, height: 16).text().contains("routing entropy"))
        state.layerIndex = 1  // the other layer's own distribution
        #expect(render(state).text().contains("mean \(ViewFormat.fixed2(EntropyHistogram(try #require(state.layerAnalysis)).mean)) bits"))
        var buffer = ScreenBuffer(width: 1, height: 1)
        ColumnBars(values: [1, 0.5], max: 1).render(in: Rect(x: 0, y: 0, width: 0, height: 0), into: &buffer)
        ColumnBars(values: [1, 0.5], max: 1, barWidth: 2).render(in: buffer.bounds, into: &buffer)
        #expect(buffer.text() == "█")
    }
}

@Suite("What the Overview says without training")
struct TrainingNoteTests {
    @Test("a run that says why it has no training (a capture) says it in the training panel")
    func note() throws {
        var s = InspectorState(title: "run", live: true, trainingNote: "no training: the routers of X captured on a text")
        _ = s.update(.resize(width: 120, height: 40))
        let frame = ViewsFixture.frames(s, sizes: [(120, 40)])[0].1.text()
        #expect(frame.contains("no training: the routers of X captured on a text") && !frame.contains("waiting for the first training step"))
        let plain = ViewsFixture.frames(InspectorState(title: "run", live: true), sizes: [(120, 40)])[0].1.text()
        #expect(plain.contains("waiting for the first training step"))
    }

    @Test("the loss is labelled by what the run says it is per")
    func lossUnit() throws {
        var s = try ViewsFixture.state(screen: .overview)
        #expect(ViewsFixture.frames(s, sizes: [(120, 40)])[0].1.text().contains(" nats/byte"))
        s.lossUnit = .natsPerToken
        let frame = ViewsFixture.frames(s, sizes: [(120, 40)])[0].1.text()
        #expect(frame.contains(" nats/token") && !frame.contains("nats/byte"), "\(frame)")
    }
}
