import Foundation
import Testing
import IdaFormats
import IdaNumerics
import IdaRouting
import IdaTestSupport

/// Writes an IDA checkpoint (MoE layers 0 and 2, D = 8, E = 4, M = 3, P = 3) and a probe of `tokens` tokens.
func writeRouteFiles(in dir: String, probeWidth: Int = 8, tokens: Int = 50) throws -> (checkpoint: String, probe: String) {
    var rng = SeededGenerator(seed: 4)
    let config = RouterConfig(experts: 4, componentsPerExpert: 3, latentDim: 3, topK: 2)
    var routers: [Int: LayerRouter] = [:]
    for i in [0, 2] { routers[i] = .ida(try IDARouter(config: config, hiddenDim: 8, hidden: [6], rng: &rng)) }
    let ck = RouterCheckpoint(info: CheckpointInfo(router: .ida, moeLayers: [0, 2], config: config, step: 7), routers: routers)
    try ck.write(to: dir + "/ck.safetensors")
    var writer = SafetensorsWriter()
    writer.metadata = ["idamoe.vocab": "bytes"]
    try writer.add("tokens", shape: [tokens], int32s: (0..<tokens).map { Int32(97 + $0 % 26) })
    for i in [0, 2] {
        try writer.add("layers.\(i).hidden", shape: [tokens, probeWidth],
                       floats: randomMatrix(rows: tokens, cols: probeWidth, seed: UInt64(i + 1)).data)
    }
    try writer.write(to: dir + "/probe.safetensors")
    return (dir + "/ck.safetensors", dir + "/probe.safetensors")
}

@Suite("idamoe route and info, end to end")
struct RouteCommandTests {
    @Test("--jsonl: one line per token and layer, token-major, with the documented fields")
    func jsonLines() throws {
        let (ck, probe) = try writeRouteFiles(in: temporaryDirectory())
        let run = try runIdamoe(["route", "--checkpoint", ck, "--probe", probe, "--jsonl", "--posterior", "--block-size", "7"])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.count == 100)
        for (index, line) in lines.enumerated() {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            #expect(object["token"] as? Int == index / 2)
            #expect(object["layer"] as? Int == (index % 2 == 0 ? 0 : 2))
            let experts = object["experts"] as? [Int] ?? []
            let weights = object["weights"] as? [Double] ?? []
            #expect(experts.count == 2 && Set(experts).count == 2)
            #expect(abs(weights.reduce(0, +) - 1) < 1e-6)
            #expect((object["posterior"] as? [Double])?.count == 12)
            #expect(object["log_density"] is Double)
            #expect(object["entropy_bits"] is Double)
        }
    }

    /// Guaranteed by construction on one machine and kernel (tiles of 1,024 tokens at fixed positions,
    /// one BLAS thread per worker; docs/decisions.md), so the digits must match exactly, whatever
    /// kernel the suite runs under. 2,700 tokens: two full tiles and a padded one.
    @Test("output does not depend on the thread count or block size: the same digits")
    func deterministic() throws {
        let (ck, probe) = try writeRouteFiles(in: temporaryDirectory(), tokens: 2700)
        let base = ["route", "--checkpoint", ck, "--probe", probe, "--jsonl", "--posterior"]
        let one = try runIdamoe(base + ["--threads", "1"])
        #expect(one.status == 0, "\(one.stderr)")
        #expect(one.stdout.split(separator: "\n").count == 2700 * 2)
        for extra in [["--threads", "2", "--block-size", "3"], ["--threads", "2", "--block-size", "1500"],
                      ["--threads", "3", "--block-size", "100000"]] {
            let other = try runIdamoe(base + extra)
            #expect(other.status == 0 && other.stdout == one.stdout, "\(extra)")
        }
        let tableOne = try runIdamoe(["route", "--checkpoint", ck, "--probe", probe, "--threads", "1"])
        let tableTwo = try runIdamoe(["route", "--checkpoint", ck, "--probe", probe, "--threads", "2", "--block-size", "1"])
        #expect(tableOne.status == 0 && tableOne.stdout == tableTwo.stdout)
    }

    @Test("many experts: the table summarises the load; --full lists every expert")
    func manyExpertsTable() throws {
        let dir = temporaryDirectory()
        var rng = SeededGenerator(seed: 6)
        let config = RouterConfig(experts: 40, componentsPerExpert: 2, latentDim: 3, topK: 2)
        let router = LayerRouter.ida(try IDARouter(config: config, hiddenDim: 8, hidden: [6], rng: &rng))
        try RouterCheckpoint(info: CheckpointInfo(router: .ida, moeLayers: [0], config: config, step: 1), routers: [0: router])
            .write(to: dir + "/ck.safetensors")
        var writer = SafetensorsWriter()
        try writer.add("tokens", shape: [300], int32s: (0..<300).map { Int32($0 % 26) })
        try writer.add("layers.0.hidden", shape: [300, 8], floats: randomMatrix(rows: 300, cols: 8, seed: 9).data)
        try writer.write(to: dir + "/probe.safetensors")
        let base = ["route", "--checkpoint", dir + "/ck.safetensors", "--probe", dir + "/probe.safetensors"]
        let summary = try runIdamoe(base)
        #expect(summary.status == 0, "\(summary.stderr)")
        let row = try #require(summary.stdout.split(separator: "\n").last.map(String.init))
        #expect(row.contains("| most e") && row.contains("| least e") && row.contains("/40"), "\(row)")
        let full = try runIdamoe(base + ["--full"])
        let fullRow = try #require(full.stdout.split(separator: "\n").last)
        #expect(fullRow.split(separator: " ").count == 10 + 40, "\(fullRow)")
        // The summary's quantiles of the load, over the fair share, as --json gives them.
        let json = try runIdamoe(base + ["--json"])
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let layer = try #require((doc["layers"] as? [[String: Any]])?.first)
        let q = try #require(layer["load_quantiles"] as? [String: Double])
        let p90 = try #require(q["p90"])
        #expect(row.contains(String(format: "p90 %.2fx", p90 * 40)), "\(row)")
    }

    @Test("--specialisation: mutual information per layer equals the one computed from --jsonl's first choices")
    func specialisation() throws {
        let (ck, probe) = try writeRouteFiles(in: temporaryDirectory(), tokens: 300)
        let run = try runIdamoe(["route", "--checkpoint", ck, "--probe", probe, "--specialisation", "--threads", "2"])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        let header = try #require(lines.firstIndex { $0.hasPrefix("layer") && $0.contains("previous token") })
        let rows = lines[(header + 1)...].map { $0.split(separator: " ").map(String.init) }
        #expect(rows.count == 2 && rows[0].first == "0" && rows[1].first == "2")
        #expect(rows[0][1] == "-", "no domains in this probe: \(rows[0])")
        // Recompute layer 0's token figure from the per-token output.
        let jsonl = try runIdamoe(["route", "--checkpoint", ck, "--probe", probe, "--jsonl", "--layer", "0"])
        var table = LabelExpertCounts(experts: 4)
        for line in jsonl.stdout.split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            let token = try #require(object["token"] as? Int), experts = try #require(object["experts"] as? [Int])
            table.add(label: Int32(97 + token % 26), expert: experts[0])
        }
        #expect(rows[0][2] == String(format: "%.3f", table.mutualInformationBits), "\(rows[0]) vs \(table.mutualInformationBits)")
        #expect(rows[0][3] == String(format: "(%.2f)", table.normalizedMutualInformation))
        let bad = try runIdamoe(["route", "--checkpoint", ck, "--probe", probe, "--specialisation", "--jsonl"])
        #expect(bad.status == 64 && bad.stderr.contains("--specialisation"))
    }

    @Test("--ood-domains: AUROC of -log p(z) equals the one computed from --jsonl; unknown domains are one-line errors")
    func outOfDomain() throws {
        let ck = repositoryFile("fixtures/tiny-ida.safetensors"), probe = repositoryFile("fixtures/tiny-probe.safetensors")
        let run = try runIdamoe(["route", "--checkpoint", ck, "--probe", probe, "--ood-domains", "code,math"])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        let header = try #require(lines.firstIndex { $0.hasPrefix("layer  AUROC") })
        #expect(lines[header - 1].contains("of code, math (held out of training)"))
        let row = lines[header + 1].split(separator: " ").map(String.init)
        // Recompute layer 0 from per-token log-densities and the probe's domains.
        let jsonl = try runIdamoe(["route", "--checkpoint", ck, "--probe", probe, "--jsonl", "--layer", "0"])
        let domains = try Probe(path: probe).domainIDs() ?? []
        var held: [Double] = [], seen: [Double] = []
        for line in jsonl.stdout.split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            let token = try #require(object["token"] as? Int), density = try #require(object["log_density"] as? Double)
            if domains[token] == 1 || domains[token] == 2 { held.append(-density) } else { seen.append(-density) }
        }
        let auroc = try #require(areaUnderROC(positive: held, negative: seen))
        #expect(row[0] == "0" && row[1] == String(format: "%.3f", auroc), "\(row) vs \(auroc)")
        let bad = try runIdamoe(["route", "--checkpoint", ck, "--probe", probe, "--ood-domains", "poetry"])
        #expect(bad.status == 1 && bad.stderr.contains("'poetry' is not a domain of the probe") && bad.stderr.split(separator: "\n").count == 1)
    }

    @Test("default table: one row per MoE layer")
    func table() throws {
        let (ck, probe) = try writeRouteFiles(in: temporaryDirectory())
        let run = try runIdamoe(["route", "--checkpoint", ck, "--probe", probe, "--layer", "2"])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.count == 5)
        #expect(lines[0].contains("ida router, step 7"))
        // The table says which CV each column is (the training-batch CV is another number).
        #expect(lines[1].contains("CV1 first choices, CVk all top-k assignments, CVg gate-weighted"))
        #expect(lines[2].contains("MaxVio (MV1, MVk, MVg) of the same loads"))
        #expect(lines[3].hasPrefix("layer   CV1   CVk   CVg   MV1   MVk   MVg  entropy"))
        #expect(lines[4].hasPrefix("    2 "))
        #expect(lines[4].split(separator: " ").count == 10 + 4)
        // Every layer: a row each, then the quantiles of CVk and MaxVio across them.
        let all = try runIdamoe(["route", "--checkpoint", ck, "--probe", probe])
        let last = try #require(all.stdout.split(separator: "\n").last)
        #expect(last.hasPrefix("across 2 layers: CVk p50 ") && last.contains("; MVk p50 "), "\(last)")
    }

    @Test("--json: per layer its loads, CVs, MaxVios and load quantiles as the table prints them; quantiles across layers")
    func jsonDocument() throws {
        let (ck, probe) = try writeRouteFiles(in: temporaryDirectory())
        let run = try runIdamoe(["route", "--checkpoint", ck, "--probe", probe, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.split(separator: "\n").count == 1)
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(doc["v"] as? Int == 1 && doc["router"] as? String == "ida" && doc["step"] as? Int == 7)
        let layers = try #require(doc["layers"] as? [[String: Any]])
        #expect(layers.map { $0["layer"] as? Int } == [0, 2])
        let table = try runIdamoe(["route", "--checkpoint", ck, "--probe", probe]).stdout.split(separator: "\n")
        var maxVios: [Double] = []
        for (row, layer) in zip(table[4...], layers) {
            let load = try #require((layer["load"] as? [String: Any])?["topk"] as? [Double])
            let mean = load.reduce(0, +) / Double(load.count)
            let maxVio = try #require((layer["max_vio"] as? [String: Double])?["topk"])
            #expect(abs(maxVio - ((load.max() ?? 0) / mean - 1)) < 1e-12)
            maxVios.append(maxVio)
            let cv = try #require(layer["cv"] as? [String: Double])
            let mv = try #require(layer["max_vio"] as? [String: Double])
            let columns = row.split(separator: " ").map(String.init)
            let printed = [cv["top1"], cv["topk"], cv["gate"], mv["top1"], mv["topk"], mv["gate"]].map { String(format: "%.3f", $0 ?? .nan) }
            #expect(Array(columns[1...6]) == printed, "\(row)")
            // Quantiles of the load by linear interpolation between order statistics.
            let sorted = load.sorted()
            let q = try #require(layer["load_quantiles"] as? [String: Double])
            let rank = 0.9 * Double(sorted.count - 1), low = Int(rank)
            #expect(abs((q["p90"] ?? .nan) - (sorted[low] + (sorted[min(low + 1, sorted.count - 1)] - sorted[low]) * (rank - Double(low)))) < 1e-12)
            #expect(q["max"] == sorted.last && q["p50"].map { $0 >= sorted.first! && $0 <= sorted.last! } == true)
        }
        let across = try #require((doc["across_layers"] as? [String: Any])?["max_vio_topk"] as? [String: Double])
        #expect(across["max"] == maxVios.max() && abs((across["p50"] ?? .nan) - (maxVios[0] + maxVios[1]) / 2) < 1e-12)
        let both = try runIdamoe(["route", "--checkpoint", ck, "--probe", probe, "--json", "--jsonl"])
        #expect(both.status != 0 && both.stderr.contains("pick one"))
    }

    @Test("--ep, --placement, --redundant: each rank's load is its experts' load, in the table and --json")
    func expertParallel() throws {
        let dir = temporaryDirectory()
        let (ck, probe) = try writeRouteFiles(in: dir)
        let run = try runIdamoe(["route", "--checkpoint", ck, "--probe", probe, "--json", "--ep", "2", "--redundant", "2"])
        #expect(run.status == 0, "\(run.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let ep = try #require(doc["ep"] as? [String: Any])
        #expect(ep["ranks"] as? Int == 2 && ep["placement"] as? String == "contiguous" && ep["redundant"] as? Int == 2)
        var maxVios: [Double] = []
        for layer in try #require(doc["layers"] as? [[String: Any]]) {
            let load = try #require((layer["load"] as? [String: Any])?["topk"] as? [Double])
            let view = try #require(layer["ep"] as? [String: Any])
            let ranks = try #require(view["rank_load"] as? [Double])
            // Experts 0, 1 on rank 0 and 2, 3 on rank 1.
            #expect(abs(ranks[0] - (load[0] + load[1])) < 1e-12 && abs(ranks[1] - (load[2] + load[3])) < 1e-12)
            let maxVio = try #require(view["max_vio"] as? Double)
            #expect(abs(maxVio - (2 * (ranks.max() ?? 0) - 1)) < 1e-12)
            #expect(view["hottest"] as? Int == (ranks[1] > ranks[0] ? 1 : 0))
            maxVios.append(maxVio)
            let what = try #require(view["replicated"] as? [String: Any])
            let replicas = try #require(what["replicas"] as? [Int])
            #expect(replicas.reduce(0, +) == 6 && (what["rank_load"] as? [Double])?.count == 2)
            // The hottest expert is replicated first.
            let hottest = load.indices.max { load[$0] < load[$1] || (load[$0] == load[$1] && $0 > $1) } ?? 0
            #expect(replicas[hottest] >= 2, "\(load) \(replicas)")
        }
        let across = try #require((doc["across_layers"] as? [String: Any])?["ep_max_vio"] as? [String: Double])
        #expect(across["max"] == maxVios.max())
        // The table prints the same figures.
        let table = try runIdamoe(["route", "--checkpoint", ck, "--probe", probe, "--ep", "2"])
        #expect(table.status == 0, "\(table.stderr)")
        let lines = table.stdout.split(separator: "\n").map(String.init)
        let head = try #require(lines.firstIndex { $0.hasPrefix("expert parallelism: 2 ranks") })
        let rows = lines[(head + 2)...].filter { !$0.hasPrefix("across") }
        #expect(rows.map { $0.split(separator: " ")[1] } == maxVios.map { Substring(String(format: "%.3f", $0)) })
        // A placement file: expert 3 twice, on both ranks.
        let file = dir + "/placement.json"
        try Data(#"{"ranks": 2, "physical_to_logical": [[0, 3, 1], [], [2, 3, 0]]}"#.utf8).write(to: URL(fileURLWithPath: file))
        let empty = try runIdamoe(["route", "--checkpoint", ck, "--probe", probe, "--json", "--placement", file])
        #expect(empty.status == 1 && empty.stderr.contains("physical_to_logical[1]: expected a non-empty array"), "\(empty.stderr)")
        try Data(#"{"ranks": 2, "physical_to_logical": {"0": [0, 3, 1, 2, 3, 0], "2": [0, 1, 2, 3]}}"#.utf8).write(to: URL(fileURLWithPath: file))
        let placed = try runIdamoe(["route", "--checkpoint", ck, "--probe", probe, "--json", "--placement", file])
        #expect(placed.status == 0, "\(placed.stderr)")
        let pdoc = try #require(try JSONSerialization.jsonObject(with: Data(placed.stdout.utf8)) as? [String: Any])
        let first = try #require((pdoc["layers"] as? [[String: Any]])?.first)
        let load = try #require((first["load"] as? [String: Any])?["topk"] as? [Double])
        let ranks = try #require((first["ep"] as? [String: Any])?["rank_load"] as? [Double])
        #expect(abs(ranks[0] - (load[0] / 2 + load[3] / 2 + load[1])) < 1e-12 && abs(ranks[1] - (load[2] + load[3] / 2 + load[0] / 2)) < 1e-12)
        // Refused before routing, one line each.
        try Data(#"{"physical_to_logical": [0, 1, 2]}"#.utf8).write(to: URL(fileURLWithPath: file))
        let cases: [([String], String)] = [
            (["--ep", "5"], "5 ranks for 4 expert slots"),
            (["--ep", "0"], "--ep must be at least 1"),
            (["--redundant", "1"], "--redundant needs --ep G or --placement FILE"),
            (["--ep", "3", "--redundant", "1"], "E + R must be a multiple of G"),
            (["--ep", "2", "--redundant", "100000000000"], "--redundant must be 0 to 65536 slots"),
            (["--ep", "2", "--redundant", "65535"], "65539 slots: at most 65536"),
            (["--placement", file, "--ep", "2"], "expert 3 has no slot"),
            (["--placement", file], "the file names no ranks; give --ep G"),
            (["--placement", dir + "/none.json"], "none.json"),
            (["--ep", "2", "--jsonl"], "--ep and --placement go with the table or --json"),
        ]
        for (extra, needle) in cases {
            let bad = try runIdamoe(["route", "--checkpoint", ck, "--probe", probe] + extra)
            #expect(bad.status != 0 && bad.stdout.isEmpty, "\(extra)")
            #expect(bad.stderr.contains(needle) && bad.stderr.split(separator: "\n").count == 1, "\(extra): \(bad.stderr)")
        }
    }

    @Test("bad input: one line on stderr, non-zero exit, nothing on stdout")
    func badInput() throws {
        let dir = temporaryDirectory()
        let (ck, _) = try writeRouteFiles(in: dir)
        let (_, wide) = try writeRouteFiles(in: dir + "/", probeWidth: 9)
        let garbage = dir + "/garbage.safetensors"
        try Data("this is not a safetensors file at all".utf8).write(to: URL(fileURLWithPath: garbage))
        let cases: [([String], String)] = [
            (["route", "--checkpoint", dir + "/missing.safetensors", "--probe", wide], "missing.safetensors"),
            (["route", "--checkpoint", ck, "--probe", wide], "layers.0.hidden has shape [50, 9], expected [50, 8]"),
            (["route", "--checkpoint", garbage, "--probe", wide], "garbage.safetensors"),
            (["route", "--checkpoint", ck, "--probe", wide, "--layer", "1"], "layer 1 is not a MoE layer"),
            (["info", garbage], "garbage.safetensors"),
        ]
        for (arguments, needle) in cases {
            let run = try runIdamoe(arguments)
            #expect(run.status == 1, "\(arguments): status \(run.status)")
            #expect(run.stdout.isEmpty)
            let lines = run.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(run.stderr)")
            #expect(run.stderr.contains(needle), "\(run.stderr)")
        }
        let unknown = try runIdamoe(["route", "--checkpoint", ck, "--probe", wide, "--frobnicate"])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("Unknown option '--frobnicate'"), "\(unknown.stderr)")
    }

    @Test("info --json describes the routers and tensors")
    func info() throws {
        let (ck, probe) = try writeRouteFiles(in: temporaryDirectory())
        let run = try runIdamoe(["info", ck, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] ?? [:]
        let router = object["router"] as? [String: Any] ?? [:]
        #expect(router["experts"] as? Int == 4)
        #expect(router["latent_dim"] as? Int == 3)
        #expect(router["hidden_dim"] as? Int == 8)
        #expect((object["tensors"] as? [Any])?.count == 2 * (4 + 4 + 3))
        let text = try runIdamoe(["info", probe])
        #expect(text.stdout.contains("tokens 50, MoE layers 0,2, hidden width 8"))
    }
}
