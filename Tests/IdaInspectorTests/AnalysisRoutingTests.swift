import Testing
import IdaFormats
import IdaNumerics
import IdaRouting
import IdaTestSupport
@testable import IdaInspector

/// The inspector routes with the same tiles as `idamoe route`, so its numbers are route's numbers.
@Suite("Inspector analysis and idamoe route agree")
struct AnalysisRoutingTests {
    @Test("an analysis equals ProbeRouting's metrics and choices exactly, whatever the worker count")
    func sameAsRoute() throws {
        let ck = try ViewsFixture.checkpoint()
        // 700 tokens: the fixture's hidden states repeated, so three tiles (the last padded).
        var writer = SafetensorsWriter()
        let n = 700, base = ViewsFixture.tokens.count
        try writer.add("tokens", shape: [n], int32s: (0..<n).map { ViewsFixture.tokens[$0 % base] })
        for layer in [1, 3] {
            let h = ViewsFixture.hidden(layer: layer)
            let rows = (0..<n).flatMap { h.data[(($0 % base) * 8)..<(($0 % base) * 8 + 8)] }
            try writer.add("layers.\(layer).hidden", shape: [n, 8], floats: rows)
        }
        let path = temporaryDirectory() + "/probe.safetensors"
        try writer.write(to: path)
        let probe = try Probe(path: path)
        var selected: [Int: [Int32]] = [:]
        let routing = try ProbeRouting(checkpoint: ck, probe: probe, blockSize: 256)
        let metrics = try routing.run(workers: 1, transform: { _, results in results }, consume: { results in
            for (slot, layer) in routing.layers.enumerated() { selected[layer, default: []] += results[slot].selected }
        })
        for workers in [1, 2] {
            let analysis = try SnapshotAnalysis(checkpoint: ck, probe: probe, workers: workers)
            for layer in [1, 3] {
                let a = try #require(analysis.layers[layer])
                #expect(a.metrics == metrics[layer])
                #expect(a.selected == selected[layer])
            }
        }
        // The layer on screen first, the other reported as progress: the same numbers in the end.
        var seen: [[Int]] = []
        let layerFirst = try SnapshotAnalysis(checkpoint: ck, probe: probe, workers: 2, first: 3, progress: { partial in
            seen.append(partial.layers.keys.sorted())
            #expect(!partial.isComplete && partial.layerOrder == [1, 3])
        })
        #expect(seen == [[3]] && layerFirst.isComplete)
        // Headless frames stop once the layer they show is in.
        let partial = try SnapshotAnalysis(checkpoint: ck, probe: probe, first: 3, until: { $0.layers[3] != nil })
        #expect(partial.layers.keys.sorted() == [3] && !partial.isComplete)
        var before = InspectorState(title: "t", live: false)
        #expect(before.update(.snapshots([0])) == [.analyze(step: 0)])
        let after = InspectorApp.replay([.character("2"), .character("]")], on: before, with: partial, step: 0)
        #expect(before.analysis == nil && after.analysis?.layers.keys.sorted() == [3])
        #expect(after.screen == .layer && after.layer == 3)
        // A preferred layer (the one on screen after a key) goes next.
        var order: [[Int]] = []
        _ = try SnapshotAnalysis(checkpoint: ck, probe: probe, prefer: { 3 }, progress: { order.append($0.layers.keys.sorted()) })
        #expect(order == [[3]])
        for layer in [1, 3] {
            let a = try #require(layerFirst.layers[layer])
            #expect(a.metrics == metrics[layer] && a.selected == selected[layer])
        }
        // Only three posteriors per token are kept: the largest, best first.
        let a = try #require(layerFirst.layers[1])
        #expect(a.topComponents.count == 3 * n && a.topPosteriors.count == 3 * n)
        for t in 0..<n {
            let p = a.topPosteriors[(3 * t)..<(3 * t + 3)]
            #expect(p.elementsEqual(p.sorted(by: >)))
            if let top = a.topComponent { #expect(a.topComponents[3 * t] == top[t]) }
        }
    }
}
