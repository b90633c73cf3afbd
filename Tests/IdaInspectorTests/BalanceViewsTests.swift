import Foundation
import IdaFormats
import IdaRouting
import IdaTerminal
import Testing
@testable import IdaInspector

/// The balance figures beyond the CV on screen, from literal step events: the quantiles of a layer's
/// per-expert load (Layer screen) and of the per-layer CVs and MaxVios across layers (Overview).
@Suite("Inspector: load quantiles and the quantiles across layers")
struct BalanceViewsTests {
    /// Three layers of eight experts. Layer 0 is uniform (MaxVio 0), layer 1 has MaxVio 1.4 and
    /// layer 2 MaxVio 0.6; their logged CVs are 0.2, 0.5 and 0.3.
    static let loads: [[Double]] = [
        [Double](repeating: 0.125, count: 8),
        [0.05, 0.05, 0.1, 0.1, 0.1, 0.1, 0.2, 0.3],
        [0.2, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
    ]
    static let cvs = [0.2, 0.5, 0.3]

    static func state(screen: Screen, width: Int = 120, height: Int = 40) -> InspectorState {
        let layers = (0..<3).map { l in
            #"{"layer":\#(l),"load":[\#(loads[l].map { String($0) }.joined(separator: ","))],"cv":\#(cvs[l]),"entropy":2.5}"#
        }.joined(separator: ",")
        let line = #"{"v":1,"step":10,"time":1,"kind":"step","loss":2.0,"cv_mean":0.33,"layers":[\#(layers)]}"#
        var s = InspectorState(title: "runs/balance", live: false)
        s.history.append([RunEvent(line: line)].compactMap { $0 })
        s.screen = screen
        s.width = width
        s.height = height
        return s
    }

    func render(_ state: InspectorState) -> String {
        var buffer = ScreenBuffer(width: state.width, height: state.height)
        InspectorView.render(state, mode: .full, into: &buffer)
        return buffer.text()
    }

    @Test("the Layer screen's load panel ends with the load's p50, p90, p99 and max over the fair share")
    func layerQuantiles() {
        var state = Self.state(screen: .layer)
        state.layerIndex = 1
        // Layer 1 sorted: 0.05 0.05 0.1 0.1 0.1 0.1 0.2 0.3, fair 0.125. p50 at rank 3.5: 0.1 (0.80x);
        // p90 at rank 6.3: 0.2 + 0.3 * 0.1 = 0.23 (1.84x); p99 at rank 6.93: 0.293 (2.344x); max 0.3 (2.40x).
        let frame = render(state)
        #expect(frame.contains("│p50 0.80x p90 1.84x p99 2.34x max 2.40x fair"), "\(frame)")
        // A narrow panel keeps the numbers with fewer decimals.
        let narrow = render(Self.state(screen: .layer, width: 80, height: 30))
        #expect(narrow.contains("│p50 1.0 p90 1.0 p99 1.0 max 1.0"), "\(narrow)")
    }

    @Test("the Overview's layer table ends with the quantiles of CV and MaxVio across layers")
    func acrossLayers() {
        // CVs 0.2 0.3 0.5: p50 0.3, p90 at rank 1.8: 0.3 + 0.2 * 0.8 = 0.46, p99 0.496, max 0.5.
        // MaxVios 0 0.6 1.4: p50 0.6, p90 0.6 + 0.8 * 0.8 = 1.24, p99 1.384, max 1.4.
        let frame = render(Self.state(screen: .overview))
        #expect(frame.contains("│train CV p50 0.30 p90 0.46 p99 0.50 max 0.50"), "\(frame)")
        #expect(frame.contains("│MaxVio   p50 0.60 p90 1.24 p99 1.38 max 1.40"), "\(frame)")
        let roomier = ViewFormat.acrossLayers(cv: Self.cvs, cvName: "train CV", maxVio: [0, 1.4, 0.6], width: 60, rows: 2, dot: " · ")
        #expect(roomier == ["train CV p50 0.300 p90 0.460 p99 0.496 max 0.500", "MaxVio   p50 0.60 p90 1.24 p99 1.38 max 1.40"])
        #expect(ViewFormat.acrossLayers(cv: Self.cvs, cvName: "train CV", maxVio: [0, 1.4, 0.6], width: 30, rows: 1, dot: " · ")
            == ["train CV p50 0.30 p90 0.46 max 0.50"])
        // Where one line holds both, one line says so.
        let wide = ViewFormat.acrossLayers(cv: Self.cvs, cvName: "train CV", maxVio: [0, 1.4, 0.6], width: 200, rows: 2, dot: " · ")
        #expect(wide == ["across 3 layers: train CV p50 0.300 p90 0.460 p99 0.496 max 0.500 · MaxVio p50 0.60 p90 1.24 p99 1.38 max 1.40"])
        // One layer has no distribution to show.
        var one = Self.state(screen: .overview)
        one.history = RunHistory()
        one.history.append([RunEvent(line: #"{"v":1,"step":1,"time":1,"kind":"step","layers":[{"layer":0,"load":[0.5,0.5],"cv":0}]}"#)].compactMap { $0 })
        #expect(!render(one).contains("MaxVio   p50"))
    }
}
