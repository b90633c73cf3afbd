import Foundation
import Testing
import IdaFormats
import IdaNumerics
import IdaRouting
import IdaTestSupport

@Suite("idamoe route and info with gate options")
struct GateOptionsCommandTests {
    @Test("route --jsonl gives unrenormalised, scaled gates from the metadata; info names the options")
    func routeAndInfo() throws {
        let dir = temporaryDirectory()
        let (_, probe) = try writeRouteFiles(in: dir)
        var rng = SeededGenerator(seed: 8)
        let options = GateOptions(normalize: false, scale: 2.5, groups: 2, groupTopK: 1)
        var routers: [Int: LayerRouter] = [:]
        for i in [0, 2] {
            var r = try SoftmaxRouter(experts: 4, hiddenDim: 8, topK: 2, rng: &rng)
            r.gateOptions = options
            routers[i] = .softmax(r)
        }
        let info = CheckpointInfo(router: .softmax, moeLayers: [0, 2], config: RouterConfig(experts: 4, topK: 2), step: nil,
                                  gate: options)
        let ck = dir + "/gated.safetensors"
        try RouterCheckpoint(info: info, routers: routers).write(to: ck)
        let run = try runIdamoe(["route", "--checkpoint", ck, "--probe", probe, "--jsonl", "--posterior"])
        #expect(run.status == 0, "\(run.stderr)")
        for line in run.stdout.split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            let experts = object["experts"] as? [Int] ?? []
            let weights = object["weights"] as? [Double] ?? []
            let posterior = object["posterior"] as? [Double] ?? []
            // One group of two experts kept: both choices in it; gates 2.5 x the probabilities themselves.
            #expect(experts.count == 2 && experts[0] / 2 == experts[1] / 2, "\(line)")
            for (e, w) in zip(experts, weights) { #expect(abs(w - 2.5 * posterior[e]) < 1e-5, "\(line)") }
        }
        let text = try runIdamoe(["info", ck])
        #expect(text.stdout.contains("gates unrenormalised x 2.5, best 1 of 2 expert groups"), "\(text.stdout)")
    }
}
