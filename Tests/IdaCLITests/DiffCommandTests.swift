import Foundation
import IdaRouting
import IdaTestSupport
import Testing

/// A tiny IDA run (snapshots at steps 2 and 4) trained once for every diff test.
enum DiffRun {
    static let directory: Result<String, any Error> = Result {
        let dir = temporaryDirectory()
        let corpus = try makeTinyCorpus(in: dir)
        let run = try runIdamoe(["train", "--run-dir", dir + "/run", "--corpus", corpus, "--steps", "4",
                                 "--snapshot-every", "2", "--eval-every", "2"] + tinyModelArguments)
        guard run.status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: ["stderr": run.stderr]) }
        return dir + "/run"
    }
}

@Suite("idamoe diff, end to end")
struct DiffCommandTests {
    /// The `--json` output parsed as an object.
    func json(_ arguments: [String]) throws -> [String: Any] {
        let out = try runIdamoe(["diff", "--json"] + arguments + ["--threads", "1"])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.split(separator: "\n").count == 1)
        let object = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8))
        return try #require(object as? [String: Any])
    }

    func layers(_ object: [String: Any]) throws -> [[String: Any]] {
        try #require(object["layers"] as? [[String: Any]])
    }

    @Test("a run against itself: 100% agreement and the identity matching, in text and JSON")
    func itself() throws {
        let run = try DiffRun.directory.get()
        let text = try runIdamoe(["diff", run, run, "--threads", "1"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("same run"))
        let raw = text.stdout.split(separator: "\n").filter { $0.contains("raw indices") }
        #expect(raw.count == 2 && raw.allSatisfy { $0.hasSuffix("100.0%   1.000") }, "\(text.stdout)")
        #expect(text.stdout.contains("matching: identity"))
        let object = try json([run, run])
        #expect(object["v"] as? Int == 1)
        #expect(object["same_run"] as? Bool == true)
        let all = try layers(object)
        #expect(all.map { $0["layer"] as? Int } == [0, 1])
        for layer in all {
            let agreement = try #require(layer["agreement"] as? [String: Any])
            #expect((agreement["raw"] as? [String: Any])?["top1"] as? Double == 1)
            #expect((agreement["matched"] as? [String: Any])?["topk_jaccard"] as? Double == 1)
            #expect((layer["matching"] as? [String: Any])?["a_to_b"] as? [Int] == [0, 1, 2, 3])
            #expect(layer["experts"] as? [String: Int] == ["a": 4, "b": 4])
        }
        #expect((object["a"] as? [String: Any])?["layer_experts"] as? [Int] == [4, 4])
    }

    @Test("RUN@STEP against the newest snapshot: the documented JSON fields, same run, comparable indices")
    func twoSteps() throws {
        let run = try DiffRun.directory.get()
        let text = try runIdamoe(["diff", run + "@2", run, "--layer", "1", "--threads", "1"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("@2 · step 2 · ida router, E 4, M 2, P 4, top-2"), "\(text.stdout)")
        #expect(text.stdout.contains("(newest snapshot) · step 4"))
        #expect(text.stdout.contains("layer 1") && !text.stdout.contains("layer 0"))
        let object = try json([run + "@2", run])
        #expect(Set(object.keys) == ["v", "a", "b", "basis", "probe", "same_run", "tau", "layers", "across_layers", "ep"])
        #expect(object["ep"] is NSNull)
        #expect(object["basis"] as? String == "own-probes")
        let a = try #require(object["a"] as? [String: Any])
        #expect(Set(a.keys) == ["spec", "path", "run_dir", "step", "router", "experts", "layer_experts",
                                "components_per_expert", "latent_dim", "top_k", "moe_layers", "probe", "capture", "imported"])
        #expect(a["step"] as? Int == 2 && (object["b"] as? [String: Any])?["step"] as? Int == 4)
        #expect((object["probe"] as? [String: Any])?["shared"] as? Bool == false)
        for layer in try layers(object) {
            #expect(Set(layer.keys) == ["layer", "experts", "tokens", "comparable_indices", "agreement", "matching", "load",
                                        "cv", "max_vio", "load_quantiles", "ep", "entropy", "components", "domains"])
            #expect(layer["comparable_indices"] as? Bool == true)
            let load = try #require(layer["load"] as? [String: Any])
            #expect(Set(load.keys) == ["a", "b", "delta", "delta_matched", "top1_a", "top1_b", "gate_a", "gate_b"])
            #expect((load["a"] as? [Double])?.count == 4)
            let components = try #require(layer["components"] as? [String: Any])
            #expect((components["mean_shift"] as? [Double])?.count == 8)
            #expect((components["prior_change"] as? [Double])?.count == 8)
            let entropy = try #require((layer["entropy"] as? [String: Any])?["change"] as? [String: Any])
            #expect(Set(entropy.keys) == ["mean", "p5", "p25", "p50", "p75", "p95", "histogram"])
            let domains = try #require(layer["domains"] as? [[String: Any]])
            #expect(domains.map { $0["name"] as? String } == ["d0", "d1"])
        }
    }

    @Test("MaxVio of both sides' loads, and with --ep 2 each side's rank loads, MaxVio and hottest rank, in JSON and text")
    func balance() throws {
        let run = try DiffRun.directory.get()
        let object = try json([run + "@2", run, "--ep", "2"])
        for layer in try layers(object) {
            let load = try #require(layer["load"] as? [String: Any])
            let vio = try #require(layer["max_vio"] as? [String: Double])
            for side in ["a", "b"] {
                let l = try #require(load[side] as? [Double])
                let mean = l.reduce(0, +) / Double(l.count)
                #expect(abs((vio[side] ?? .nan) - ((l.max() ?? 0) / mean - 1)) < 1e-12)
                let t = try #require(load["top1_" + side] as? [Double])
                #expect(abs((vio["top1_" + side] ?? .nan) - ((t.max() ?? 0) / (t.reduce(0, +) / Double(t.count)) - 1)) < 1e-12)
                let ep = try #require((layer["ep"] as? [String: Any])?[side] as? [String: Any])
                let ranks = try #require(ep["rank_load"] as? [Double])
                #expect(abs(ranks[0] - (l[0] + l[1])) < 1e-12 && abs(ranks[1] - (l[2] + l[3])) < 1e-12)
                #expect(abs((ep["max_vio"] as? Double ?? .nan) - (2 * (ranks.max() ?? 0) / (ranks[0] + ranks[1]) - 1)) < 1e-12)
            }
        }
        #expect(try layers(try json([run + "@2", run])).allSatisfy { $0["ep"] is NSNull })
        #expect((object["ep"] as? [String: Any])?["placement"] as? String == "contiguous")
        let text = try runIdamoe(["diff", run + "@2", run, "--ep", "2", "--layer", "1", "--threads", "1"])
        #expect(text.stdout.contains("  MaxVio  ") && text.stdout.contains("2 ranks, contiguous; hottest A r"), "\(text.stdout)")
        let bad = try runIdamoe(["diff", run, run, "--ep", "0"])
        #expect(bad.status != 0 && bad.stderr.contains("--ep must be at least 1 rank"))
    }

    /// numpy's default quantile (linear between order statistics), written out for the tests.
    static func quantile(_ xs: [Double], _ q: Double) -> Double {
        let s = xs.sorted()
        let rank = q * Double(s.count - 1)
        let low = Int(rank), high = min(low + 1, s.count - 1)
        return s[low] + (s[high] - s[low]) * (rank - Double(low))
    }

    @Test("gate-weighted MaxVio, per-layer load quantiles and the quantiles across layers, in JSON and text")
    func quantiles() throws {
        let run = try DiffRun.directory.get()
        let object = try json([run + "@2", run])
        let all = try layers(object)
        var vios: [String: [Double]] = [:]
        for layer in all {
            let load = try #require(layer["load"] as? [String: Any])
            let vio = try #require(layer["max_vio"] as? [String: Double])
            let q = try #require(layer["load_quantiles"] as? [String: [String: Double]])
            for side in ["a", "b"] {
                let gate = try #require(load["gate_" + side] as? [Double])
                #expect(gate.count == 4 && abs(gate.reduce(0, +) - 1) < 1e-9)
                let mean = gate.reduce(0, +) / 4
                #expect(abs((vio["gate_" + side] ?? .nan) - ((gate.max() ?? 0) / mean - 1)) < 1e-12)
                let l = try #require(load[side] as? [Double])
                for (name, p) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0)] {
                    #expect(abs((q[side]?[name] ?? .nan) - Self.quantile(l, p)) < 1e-12, "\(name) \(side)")
                }
                vios["max_vio_gate_" + side, default: []].append(vio["gate_" + side] ?? .nan)
                vios["max_vio_topk_" + side, default: []].append(vio[side] ?? .nan)
            }
        }
        let across = try #require(object["across_layers"] as? [String: [String: Any]])
        for side in ["a", "b"] {
            for figure in ["max_vio_gate", "max_vio_topk"] {
                let q = try #require(across[side]?[figure] as? [String: Double])
                let values = try #require(vios[figure + "_" + side])
                #expect(abs((q["p90"] ?? .nan) - Self.quantile(values, 0.9)) < 1e-12 && abs((q["max"] ?? .nan) - (values.max() ?? 0)) < 1e-12)
            }
            #expect(Set(across[side]?.keys ?? [:].keys) == ["cv_topk", "max_vio_top1", "max_vio_topk", "max_vio_gate"])
        }
        let text = try runIdamoe(["diff", run + "@2", run, "--threads", "1"])
        #expect(text.status == 0, "\(text.stderr)")
        let first = try #require(all.first)
        let gateVio = try #require(first["max_vio"] as? [String: Double])
        #expect(text.stdout.contains("  MV gate       " + String(format: "%.3f", gateVio["gate_a"] ?? .nan)), "\(text.stdout)")
        let l = try #require((first["load"] as? [String: Any])?["a"] as? [Double])
        let want = String(format: "p50 %.2fx p90 %.2fx p99 %.2fx max %.2fx fair", 4 * Self.quantile(l, 0.5), 4 * Self.quantile(l, 0.9),
                          4 * Self.quantile(l, 0.99), 4 * (l.max() ?? 0))
        #expect(text.stdout.contains("  load quantiles A: " + want), "\(text.stdout)")
        let mvg = vios["max_vio_gate_a"] ?? []
        #expect(text.stdout.contains("across 2 layers") && text.stdout.contains("  MVg       A p50 " + String(format: "%.3f", Self.quantile(mvg, 0.5))),
                "\(text.stdout)")
    }

    @Test("--placement maps slots on both sides, --redundant adds the what-if; bad files are one-line errors")
    func placement() throws {
        let run = try DiffRun.directory.get()
        let dir = temporaryDirectory()
        // r0 holds e3 and e0, r1 holds e1 and e2.
        try #"{"ranks":2,"physical_to_logical":[3,0,1,2]}"#.write(toFile: dir + "/p.json", atomically: true, encoding: .utf8)
        let object = try json([run + "@2", run, "--placement", dir + "/p.json", "--redundant", "2"])
        #expect((object["ep"] as? [String: Any])?["placement"] as? String == dir + "/p.json")
        #expect((object["ep"] as? [String: Any])?["redundant"] as? Int == 2)
        for layer in try layers(object) {
            let load = try #require(layer["load"] as? [String: Any])
            for side in ["a", "b"] {
                let l = try #require(load[side] as? [Double])
                let ep = try #require((layer["ep"] as? [String: Any])?[side] as? [String: Any])
                let ranks = try #require(ep["rank_load"] as? [Double])
                #expect(abs(ranks[0] - (l[3] + l[0])) < 1e-12 && abs(ranks[1] - (l[1] + l[2])) < 1e-12, "\(ranks) \(l)")
                let after = try #require(ep["replicated"] as? [String: Any])
                #expect((after["replicas"] as? [Int])?.reduce(0, +) == 6 && after["redundant"] as? Int == 2)
            }
        }
        let across = try #require((object["across_layers"] as? [String: [String: Any]])?["a"])
        #expect(across["ep_max_vio"] is [String: Double] && across["ep_max_vio_replicated"] is [String: Double])
        let text = try runIdamoe(["diff", run + "@2", run, "--placement", dir + "/p.json", "--redundant", "2", "--threads", "1"])
        #expect(text.stdout.contains("2 ranks, placement " + dir + "/p.json; hottest A r") && text.stdout.contains("  after  "),
                "\(text.stdout)")
        try #"{"ranks":2,"physical_to_logical":[0,1,2,7]}"#.write(toFile: dir + "/wrong.json", atomically: true, encoding: .utf8)
        try "[0, 1".write(toFile: dir + "/broken.json", atomically: true, encoding: .utf8)
        try #"[0,1,2,3]"#.write(toFile: dir + "/bare.json", atomically: true, encoding: .utf8)
        for (extra, message) in [(["--placement", dir + "/wrong.json"], "layer 0: slot 3 holds expert 7"),
                                 (["--placement", dir + "/broken.json"], "not JSON"),
                                 (["--placement", dir + "/bare.json"], "the file names no ranks; give --ep G"),
                                 (["--ep", "2", "--redundant", "1"], "E + R must be a multiple of G"),
                                 (["--redundant", "2"], "--redundant needs --ep G or --placement FILE"),
                                 (["--ep", "8"], "8 ranks for 4 expert slots")] {
            let bad = try runIdamoe(["diff", run + "@2", run, "--threads", "1"] + extra)
            #expect(bad.status != 0 && bad.stderr.contains(message) && bad.stderr.split(separator: "\n").count == 1, "\(extra): \(bad.stderr)")
        }
    }

    @Test("two runs that differ only in seed compare out of the box; --text runs one text through each model; IDA against sigmoid-bias with other E and top-k")
    func anyTwoRuns() throws {
        let dir = temporaryDirectory()
        let corpus = try makeTinyCorpus(in: dir)
        func train(_ name: String, _ extra: [String]) throws -> String {
            let out = try runIdamoe(["train", "--run-dir", dir + "/" + name, "--corpus", corpus, "--steps", "4",
                                     "--snapshot-every", "4", "--eval-every", "4"] + tinyModelArguments + extra)
            #expect(out.status == 0, "\(out.stderr)")
            return dir + "/" + name
        }
        let one = try train("seed1", ["--seed", "1"]), two = try train("seed2", ["--seed", "2"])
        let other = try train("bias", ["--seed", "3", "--router", "sigmoid-bias", "--experts", "6", "--top-k", "3"])
        // Same corpus and settings, other seeds: the same probe text, so each side's own probe serves.
        let seeds = try json([one, two])
        #expect(seeds["basis"] as? String == "own-probes")
        #expect((seeds["probe"] as? [String: Any])?["shared"] as? Bool == false)
        let seedsText = try runIdamoe(["diff", one, two, "--threads", "1"])
        #expect(seedsText.stdout.contains("basis  the same tokens through each model"), "\(seedsText.stdout)")
        // One text through each model.
        let text = dir + "/text.txt"
        try "Routers send each byte to two experts. 12 + 30 = 42.\n".write(toFile: text, atomically: true, encoding: .utf8)
        let viaText = try json([one, two, "--text", text])
        #expect(viaText["basis"] as? String == "text")
        #expect((viaText["probe"] as? [String: Any])?["tokens"] as? Int == 53, "one token per byte")
        // Another router, expert count and top-k: compared wherever the tokens match.
        let mixed = try json([one, other])
        let b = try #require(mixed["b"] as? [String: Any])
        #expect(b["router"] as? String == "sigmoid-bias" && b["experts"] as? Int == 6 && b["top_k"] as? Int == 3)
        for layer in try layers(mixed) {
            let load = try #require(layer["load"] as? [String: Any])
            #expect((load["a"] as? [Double])?.count == 4 && (load["b"] as? [Double])?.count == 6, "\(load)")
        }
        // One probe's hidden states through both routers is named as such.
        let shared = try runIdamoe(["diff", one, two, "--probe", one + "/snapshots/step-00000004.probe.safetensors"])
        #expect(shared.stdout.contains("basis  one probe's hidden states through both sides' routers"), "\(shared.stdout)")
        let both = try runIdamoe(["diff", one, two, "--probe", text, "--text", text])
        #expect(both.status == 64 && both.stderr.contains("--probe and --text"))
        // The inspector: the same text through each model, split A | B, named in B's header.
        let split = try runIdamoe(["inspect", one, "--compare", two, "--text", text, "--headless", "--size", "140x20", "--keys", "4"])
        #expect(split.status == 0, "\(split.stderr)")
        #expect(split.stdout.contains("one text, each model"), "\(split.stdout)")
        let textRows = split.stdout.split(separator: "\n").filter { $0.contains("Routers send each byte to two experts.") }
        #expect(textRows.count == 1 && textRows[0].components(separatedBy: "Routers send").count == 3, "both halves show the text")
        let ownProbes = try runIdamoe(["inspect", one, "--compare", other, "--headless", "--size", "140x20", "--keys", "2"])
        #expect(ownProbes.stdout.contains("same tokens, each model"), "\(ownProbes.stdout)")
        let routersOnly = try runIdamoe(["inspect", one, "--compare", repositoryFile("fixtures/tiny-ida.safetensors"), "--text", text,
                                         "--headless", "--size", "200x20", "--keys", "4"])
        #expect(routersOnly.stdout.contains("holds routers only"), "\(routersOnly.stdout)")
    }

    /// Under a per-expert prior the dead rule reads usage alone (`ReactivationState.isDead`); diff's
    /// components line states each side's rule when they differ, and its footer the rule for both.
    @Test("the dead rule in words: each side's, when a per-expert prior meets a global one")
    func deadRuleWords() throws {
        let dir = temporaryDirectory()
        let (global, probe) = try writeRouteFiles(in: dir)
        var ck = try RouterCheckpoint(path: global)
        ck.info.config.priorMass = .perExpert
        try ck.write(to: dir + "/per-expert.safetensors")
        let out = try runIdamoe(["diff", global, dir + "/per-expert.safetensors", "--probe", probe, "--threads", "1"])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("dead (A usage and prior, B usage < tau/K = 0.83%)"), "\(out.stdout)")
        #expect(out.stdout.contains("dead: probe usage below tau/K and, under a global prior, the prior too (tau 0.1)."))
        let same = try runIdamoe(["diff", global, global, "--probe", probe, "--threads", "1"])
        #expect(same.stdout.contains("dead (usage and prior < tau/K = 0.83%)"), "\(same.stdout)")
    }

    @Test("a plain checkpoint file as B streams A's snapshot probe")
    func plainB() throws {
        let run = try DiffRun.directory.get()
        let copy = temporaryDirectory() + "/model.safetensors"
        try FileManager.default.copyItem(atPath: run + "/snapshots/step-00000004.safetensors", toPath: copy)
        let out = try runIdamoe(["diff", run, copy, "--threads", "1"])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("100.0%"), "\(out.stdout)")
        // The other way round there is no probe to default to.
        let back = try runIdamoe(["diff", copy, run])
        #expect(back.status == 1 && back.stderr.contains("no snapshot probe next to it"), "\(back.stderr)")
    }

    @Test("inspect --compare another run: B's half shows B's own curves and settings")
    func inspectCompareRuns() throws {
        let run = try DiffRun.directory.get()
        let dir = temporaryDirectory()
        let corpus = try makeTinyCorpus(in: dir)
        let other = try runIdamoe(["train", "--run-dir", dir + "/softmax", "--router", "softmax", "--aux-loss", "0.01",
                                   "--corpus", corpus, "--steps", "4", "--snapshot-every", "2", "--eval-every", "2"]
                                  + tinyModelArguments)
        #expect(other.status == 0, "\(other.stderr)")
        let frame = try runIdamoe(["inspect", run, "--compare", dir + "/softmax", "--headless", "--size", "200x30"])
        #expect(frame.status == 0, "\(frame.stderr)")
        #expect(frame.stdout.contains("reactivation reset by split · latent rms") && frame.stdout.contains("aux 0.010"), "\(frame.stdout)")
        // Each half's training panel leads with its own train CV (the dotted swatch of its curve).
        #expect(frame.stdout.components(separatedBy: "⠂⠂ train").count - 1 == 2, "\(frame.stdout)")
        // The Timeline plots both runs' CVs on one plot, a legend line each.
        let timeline = try runIdamoe(["inspect", run, "--compare", dir + "/softmax", "--headless", "--size", "200x30", "--keys", "5"])
        #expect(timeline.status == 0, "\(timeline.stderr)")
        #expect(timeline.stdout.contains("A \(run)  ── held-out CV") && timeline.stdout.contains("B \(dir)/softmax"), "\(timeline.stdout)")
        #expect(frame.stdout.contains("(experts matched)"))
    }

    @Test("bad input: one line on stderr, exit 1")
    func badInput() throws {
        let run = try DiffRun.directory.get()
        let cases: [([String], String)] = [
            ([run + "/missing.safetensors", run], "missing.safetensors: no such file or directory"),
            ([run + "@999", run], "no snapshot of step 999 (steps with snapshots: 2, 4)"),
            ([run, run, "--probe", repositoryFile("fixtures/tiny-probe.safetensors")], "expected [600, 16]"),
            ([run, run, "--layer", "9"], "layer 9 is not a MoE layer of both checkpoints"),
            ([repositoryFile("fixtures/tiny-ida.safetensors"), run], "no snapshot probe next to it"),
        ]
        for (arguments, needle) in cases {
            let out = try runIdamoe(["diff"] + arguments)
            #expect(out.status == 1, "\(arguments): \(out.status)")
            #expect(out.stderr.split(separator: "\n").count == 1, "\(out.stderr)")
            #expect(out.stderr.contains(needle), "\(out.stderr)")
        }
    }
}
