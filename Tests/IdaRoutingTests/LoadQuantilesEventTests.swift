import Foundation
import IdaFormats
import IdaNumerics
import IdaTestSupport
import Testing
@testable import IdaRouting

/// The step and eval layers' `load_quantiles`: p50, p90, p99 and max of the load by the one quantile
/// rule (`LayerMetrics.quantiles`), written with the log's rounding, read leniently.
@Suite("Events: per-layer load quantiles")
struct LoadQuantilesEventTests {
    /// Five experts' loads, out of order; sorted 0.05 0.1 0.15 0.3 0.4.
    static let load: [Double] = [0.05, 0.4, 0.15, 0.1, 0.3]

    @Test("the quantiles of a known load: rank q (n - 1) between order statistics")
    func handValues() {
        let q = ReportedQuantiles(of: Self.load)
        // p50: rank 2, 0.15. p90: rank 3.6, 0.3 + 0.6 * 0.1. p99: rank 3.96, 0.3 + 0.96 * 0.1. max: 0.4.
        #expect(abs(q.p50 - 0.15) < 1e-15 && abs(q.p90 - 0.36) < 1e-15 && abs(q.p99 - 0.396) < 1e-15 && q.max == 0.4, "\(q)")
        #expect(ReportedQuantiles(of: []) == ReportedQuantiles(p50: 0, p90: 0, p99: 0, max: 0))
        #expect(ReportedQuantiles(of: [0.25]) == ReportedQuantiles(p50: 0.25, p90: 0.25, p99: 0.25, max: 0.25))
    }

    @Test("a step layer writes load_quantiles rounded like every figure and reads them back")
    func stepRoundTrip() throws {
        let load = [1.0 / 3, 1.0 / 6, 1.0 / 2]
        let layer = StepEvent.Layer(layer: 2, load: load, cv: nil, loadQuantiles: ReportedQuantiles(of: load), entropy: nil)
        let line = try RunEvent(step: 4, .step(StepEvent(loss: 1, cvMean: nil, layers: [layer]))).line()
        let raw = try JSONValue.parse(line.trimmingCharacters(in: .newlines))
        let written = try #require(raw["layers"]?.array?.first?["load_quantiles"])
        // Sorted 1/6 1/3 1/2: p50 1/3; p90 1/3 + 0.8 (1/6); p99 1/3 + 0.98 (1/6); max 1/2, six significant decimals.
        #expect(written["p50"]?.double == 0.333333 && written["p90"]?.double == 0.466667)
        #expect(written["p99"]?.double == 0.496667 && written["max"]?.double == 0.5)
        guard case let .step(back)? = RunEvent(line: line)?.body else { Issue.record("not a step: \(line)"); return }
        #expect(back.layers.first?.loadQuantiles == ReportedQuantiles(p50: 0.333333, p90: 0.466667, p99: 0.496667, max: 0.5))
    }

    @Test("an eval layer writes the top-k load's quantiles and reads them back")
    func evalRoundTrip() throws {
        var record = EvalEvent(bitsPerByte: 2)
        record.layers = [EvalEvent.Layer(layer: 0, cvTop1: nil, cvTopK: nil, cvGate: nil, loadTopK: Self.load, loadGate: nil,
                                         loadQuantiles: ReportedQuantiles(of: Self.load))]
        let line = try RunEvent(step: 3, .eval(record)).line()
        guard case let .eval(back)? = RunEvent(line: line)?.body else { Issue.record("not an eval: \(line)"); return }
        #expect(back.layers.first?.loadQuantiles == ReportedQuantiles(p50: 0.15, p90: 0.36, p99: 0.396, max: 0.4))
    }

    @Test("older runs and odd objects: a layer without load_quantiles, or with a broken one, still decodes")
    func lenient() throws {
        let lines = [
            #"{"v":1,"step":1,"time":1,"kind":"step","layers":[{"layer":0,"load":[0.5,0.5],"cv":0}]}"#,
            #"{"v":1,"step":1,"time":1,"kind":"step","layers":[{"layer":0,"load":[0.5,0.5],"cv":0,"load_quantiles":{"p50":0.5}}]}"#,
            #"{"v":1,"step":1,"time":1,"kind":"step","layers":[{"layer":0,"load":[0.5,0.5],"cv":0,"load_quantiles":"high"}]}"#,
        ]
        for line in lines {
            guard case let .step(s)? = RunEvent(line: line)?.body else { Issue.record("not a step: \(line)"); continue }
            #expect(s.layers.count == 1 && s.layers[0].cv == 0 && s.layers[0].loadQuantiles == nil, "\(line)")
        }
        let nulls = #"{"v":1,"step":1,"time":1,"kind":"step","layers":[{"layer":0,"load":[0.5,0.5],"load_quantiles":{"p50":null,"p90":0.5,"p99":0.5,"max":0.5}}]}"#
        guard case let .step(s)? = RunEvent(line: nulls)?.body else { Issue.record("not a step"); return }
        #expect(s.layers.first?.loadQuantiles?.p50.isNaN == true && s.layers.first?.loadQuantiles?.max == 0.5)
        let old = #"{"v":1,"step":2,"time":1,"kind":"eval","val_bpb":2,"layers":[{"layer":0,"cv_topk":0.1,"load_topk":[0.5,0.5]}]}"#
        guard case let .eval(e)? = RunEvent(line: old)?.body else { Issue.record("not an eval"); return }
        #expect(e.layers.first?.cvTopK == 0.1 && e.layers.first?.loadQuantiles == nil)
    }

    @Test("a Python-written run's quantiles are the Swift rule's of its loads (fixtures/torch-run)")
    func pythonAgrees() throws {
        let text = String(decoding: try SmallFile.read(repositoryFile("fixtures/torch-run/events.jsonl")), as: UTF8.self)
        var checked = 0
        for line in text.split(separator: "\n") {
            let pairs: [([Double]?, ReportedQuantiles?)]
            switch RunEvent(line: String(line))?.body {
            case let .step(s)?: pairs = s.layers.map { ($0.load, $0.loadQuantiles) }
            case let .eval(e)?: pairs = e.layers.map { ($0.loadTopK, $0.loadQuantiles) }
            default: continue
            }
            for (load, written) in pairs {
                let load = try #require(load), q = try #require(written, "no load_quantiles: \(line)")
                // Python took its quantiles of the unrounded load; the file holds the load to six decimals.
                let want = ReportedQuantiles(of: load)
                for (got, w) in [(q.p50, want.p50), (q.p90, want.p90), (q.p99, want.p99), (q.max, want.max)] {
                    #expect(abs(got - w) <= 1e-6, "\(q) against \(want)")
                }
                checked += 1
            }
        }
        #expect(checked > 4)
    }

    @Test("the schema's quantiles object lists exactly the four keys")
    func schemaKeys() throws {
        let schema = try ContractSchemaTests.schemaFile("events.schema.json")
        let keys = Set(schema["$defs"]?["quantiles"]?["properties"]?.object?.keys.map { $0 } ?? [])
        #expect(keys == Set(ReportedQuantiles.CodingKeys.allCases.map(\.stringValue)))
        #expect(schema["$defs"]?["stepLayer"]?["properties"]?["load_quantiles"]?["$ref"]?.string == "#/$defs/quantiles")
        #expect(schema["$defs"]?["evalLayer"]?["properties"]?["load_quantiles"]?["$ref"]?.string == "#/$defs/quantiles")
    }
}
