import Foundation
import Testing
import IdaFormats
import IdaTestSupport

/// The Overview's balance figures on a run written by RunWriter (fixtures/torch-run): MaxVio beside
/// the CVs, and the expert-parallel columns of `--ep G` and key `g`.
/// The last step event's per-layer top-k loads, read from fixtures/torch-run's log.
func lastStepLoads() throws -> [Int: [Double]] {
    let text = try String(contentsOfFile: fixturePath("torch-run/events.jsonl"), encoding: .utf8)
    let step = try #require(text.split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }
        .last { $0["kind"]?.string == "step" })
    var out: [Int: [Double]] = [:]
    for layer in step["layers"]?.array ?? [] {
        if let i = layer["layer"]?.int { out[i] = layer["load"]?.array?.compactMap { $0.double } ?? [] }
    }
    return out
}

@Suite("Inspector: MaxVio and the expert-parallel view")
struct InspectorBalanceTests {

    func row(_ frame: String, layer: Int) throws -> [Substring] {
        let line = try #require(frame.split(separator: "\n").first { $0.hasPrefix("│L\(layer) ") })
        return line.dropFirst().prefix { $0 != "│" }.split(separator: " ")
    }

    @Test("MaxVio per layer is the load's; with --ep 2 the rank MaxVio and hottest rank; g cycles 2, 4, off")
    func rankColumns() throws {
        let loads = try lastStepLoads()
        func frame(_ extra: [String]) throws -> String {
            let run = try runIdamoe(["inspect", fixturePath("torch-run"), "--headless", "--size", "130x30"] + extra)
            #expect(run.status == 0, "\(run.stderr)")
            return run.stdout
        }
        let plain = try frame([])
        #expect(plain.contains("│layer  train CV MaxVio H bits dead"), "\(plain)")
        let ep = try frame(["--ep", "2"])
        #expect(ep.contains("│layer  train CV MaxVio rank MV  hot dead"), "\(ep)")
        for (layer, load) in loads {
            let mean = load.reduce(0, +) / Double(load.count)
            let cells = try row(ep, layer: layer)
            #expect(cells[2] == Substring(String(format: "%.2f", (load.max() ?? 0) / mean - 1)), "\(cells)")
            let ranks = [load[0] + load[1], load[2] + load[3]]
            let total = ranks[0] + ranks[1]
            #expect(cells[3] == Substring(String(format: "%.2f", 2 * (ranks.max() ?? 0) / total - 1)), "\(cells)")
            #expect(cells[4] == (ranks[1] > ranks[0] ? "r1" : "r0"), "\(cells)")
        }
        #expect(try frame(["--keys", "g"]) == ep)
        let four = try frame(["--keys", "g g"])
        // Four ranks of four experts: each rank is one expert, so the rank MaxVio is the MaxVio.
        for layer in loads.keys {
            let cells = try row(four, layer: layer)
            #expect(cells[3] == cells[2], "\(cells)")
        }
        #expect(try frame(["--keys", "g g g"]) == plain)
        let bad = try runIdamoe(["inspect", fixturePath("torch-run"), "--headless", "--ep", "0"])
        #expect(bad.status != 0 && bad.stderr.contains("--ep must be at least 1"))
    }

    @Test("the training panel leads with the batch's and the held-out MaxVio beside the CVs")
    func heldoutMaxVio() throws {
        let run = try runIdamoe(["inspect", fixturePath("torch-run"), "--headless", "--size", "130x30"])
        let text = try String(contentsOfFile: fixturePath("torch-run/events.jsonl"), encoding: .utf8)
        let eval = try #require(text.split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }
            .last { $0["kind"]?.string == "eval" })
        // The held-out MaxVio shown is the mean of the layers' MaxVio of their top-k loads.
        let vios = (eval["layers"]?.array ?? []).map { layer -> Double in
            let load = layer["load_topk"]?.array?.compactMap { $0.double } ?? []
            return (load.max() ?? 0) / (load.reduce(0, +) / Double(load.count)) - 1
        }
        let want = String(format: "%.3f", vios.reduce(0, +) / Double(vios.count))
        #expect(run.stdout.contains("held-out CV 0.283 MaxVio \(want) @3"), "\(run.stdout)")
        let loads = try lastStepLoads().values.map { load in (load.max() ?? 0) / (load.reduce(0, +) / Double(load.count)) - 1 }
        #expect(run.stdout.contains("train CV 0.252 MaxVio " + String(format: "%.3f", loads.reduce(0, +) / Double(loads.count))))
    }
}
