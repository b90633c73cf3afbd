import Foundation
import IdaFormats
import IdaRouting
import IdaTestSupport
import Testing

/// The scaled CI fixture: 48 MoE layers x 128 experts x 4 components with tiny widths (D 16, P 4),
/// 256 probe tokens, written by `idamoe bench synth` once per test process.
let scaledFixture: (checkpoint: String, probe: String)? = {
    let dir = temporaryDirectory() + "/scaled"
    guard let out = try? runIdamoe(["bench", "synth", dir, "--layers", "48", "--experts", "128", "--components", "4",
                                    "--width", "16", "--latent", "4", "--tokens", "256", "--dtype", "F16"]),
          out.status == 0 else { return nil }
    return (dir + "/checkpoint.safetensors", dir + "/probe.safetensors")
}()

@Suite("Synthetic cases (bench synth) and the inspector on 48 layers x 128 experts")
struct ScaledInspectorTests {
    @Test("bench synth writes the asked sizes and dtype, the same bytes for the same seed, and refuses nonsense")
    func generator() throws {
        let dir = temporaryDirectory()
        for (name, dtype) in [("a", "BF16"), ("b", "BF16"), ("c", "F32")] {
            let out = try runIdamoe(["bench", "synth", dir + "/" + name, "--layers", "3", "--experts", "20", "--components", "2",
                                     "--width", "12", "--encoder", "8,6", "--latent", "3", "--tokens", "70", "--dtype", dtype,
                                     "--top-k", "3"])
            #expect(out.status == 0, "\(out.stderr)")
        }
        let checkpoint = try RouterCheckpoint(path: dir + "/a/checkpoint.safetensors")
        #expect(checkpoint.info.moeLayers == [0, 1, 2] && checkpoint.info.config.experts == 20)
        #expect(checkpoint.info.config.componentsPerExpert == 2 && checkpoint.info.config.latentDim == 3)
        #expect(checkpoint.info.config.topK == 3)
        let probe = try Probe(path: dir + "/a/probe.safetensors")
        #expect(probe.count == 70 && probe.layers == [0, 1, 2] && probe.hiddenDims[2] == 12)
        #expect(probe.file.info("layers.0.hidden")?.dtype == .bf16)
        #expect(try Probe(path: dir + "/c/probe.safetensors").file.info("layers.0.hidden")?.dtype == .f32)
        for file in ["checkpoint.safetensors", "probe.safetensors"] {
            let a = FileManager.default.contents(atPath: dir + "/a/" + file)
            #expect(a != nil && a == FileManager.default.contents(atPath: dir + "/b/" + file), "\(file) differs for one seed")
        }
        let bad = try runIdamoe(["bench", "synth", dir + "/d", "--dtype", "I32"])
        #expect(bad.status != 0 && bad.stderr.contains("--dtype must be F32, F16 or BF16"))
        // A directory that cannot be made: one line naming the part that cannot and why.
        let nowhere = try runIdamoe(["bench", "synth", "/proc/idamoe-test/x", "--tokens", "10"])
        #expect(nowhere.status == 1 && nowhere.stderr.hasPrefix("Error: /proc/idamoe-test")
                && nowhere.stderr.filter { $0 == "\n" }.count == 1 && !nowhere.stderr.contains("Domain="), "\(nowhere.stderr)")
    }

    @Test("headless frames of the scaled fixture: overview pages 48 layers, layer screen pages 128 experts, / and o work")
    func headless() throws {
        guard let fixture = scaledFixture else {
            Issue.record("bench synth failed")
            return
        }
        func frame(_ keys: String, size: String = "120x40") throws -> String {
            let out = try runIdamoe(["inspect", fixture.checkpoint, "--probe", fixture.probe, "--headless", "--size", size,
                                     "--keys", keys])
            #expect(out.status == 0, "\(out.stderr)")
            return out.stdout
        }
        let overview = try frame("1")
        #expect(overview.contains("E=128 M=4") && overview.contains("▶ L0 "), "\(overview)")
        #expect(overview.contains("layers 0-") && overview.contains("of 48 ▼") && overview.contains("/cell"), "\(overview)")
        let jumped = try frame("1 / L 4 0 Enter . .")
        #expect(jumped.contains("▶ L40") && jumped.contains("L40 e1 ") && jumped.contains("layer 40 · e1: load"), "\(jumped)")
        let layer = try frame("2 / e 1 0 0 Enter")
        #expect(layer.contains("e100") && layer.contains("of 128 ▲▼") && layer.contains("layer 0 · e100: load"), "\(layer)")
        let paged = try frame("2 PgDn PgDn j", size: "100x30")
        #expect(paged.contains("load · experts") && paged.contains("▲▼"), "\(paged)")
        let ordered = try frame("2 o")
        #expect(ordered.contains("order: experts by load"), "\(ordered)")
        let latent = try frame("3 / e 5 Enter", size: "120x50")
        #expect(latent.contains("e5's 4/512"), "\(latent)")
        // A | B: both halves page around the same selection.
        let other = temporaryDirectory() + "/scaled-b"
        #expect(try runIdamoe(["bench", "synth", other, "--seed", "2", "--tokens", "256"]).status == 0)
        let split = try runIdamoe(["inspect", fixture.checkpoint, "--probe", fixture.probe, "--compare", other + "/checkpoint.safetensors",
                                   "--headless", "--size", "160x40", "--keys", "2 / e 9 0 Enter"])
        #expect(split.status == 0, "\(split.stderr)")
        let halves = split.stdout.components(separatedBy: "┌ load · experts ").count - 1
        #expect(halves == 2 && split.stdout.contains("│e90 "), "\(split.stdout)")
    }

    @Test("bench scale reports first frame, memory, keys and route throughput on the scaled fixture")
    func benchScale() throws {
        guard let fixture = scaledFixture else {
            Issue.record("bench synth failed")
            return
        }
        let dir = (fixture.checkpoint as NSString).deletingLastPathComponent
        let inspect = try runIdamoe(["bench", "scale", dir, "--presses", "1", "--size", "100x30", "--threads", "1"])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        for needle in ["48 layers x 128 experts x 4 components", "first frame", "every layer analysed", "resident memory",
                       "render Overview", "jump: / e 9 9 Enter"] {
            #expect(inspect.stdout.contains(needle), "\(needle):\n\(inspect.stdout)")
        }
        let route = try runIdamoe(["bench", "scale", dir, "--part", "route", "--threads", "1"])
        #expect(route.status == 0 && route.stdout.contains("tokens/s through all layers"), "\(route.stdout)\(route.stderr)")
        let bad = try runIdamoe(["bench", "scale", dir + "/nothing"])
        #expect(bad.status != 0 && bad.stderr.contains("idamoe bench synth"))
    }

    @Test("layers with different expert counts: route's table and every inspector screen use each layer's E")
    func layerExperts() throws {
        let dir = temporaryDirectory() + "/varied"
        let synth = try runIdamoe(["bench", "synth", dir, "--layers", "4", "--experts", "16", "--layer-experts", "8,16,64,128",
                                   "--components", "2", "--tokens", "300"])
        #expect(synth.status == 0, "\(synth.stderr)")
        let ck = dir + "/checkpoint.safetensors", probe = dir + "/probe.safetensors"
        let route = try runIdamoe(["route", "--checkpoint", ck, "--probe", probe])
        #expect(route.status == 0 && route.stdout.contains("fair share 1/E of the layer"), "\(route.stdout)\(route.stderr)")
        #expect(route.stdout.contains("starved") && route.stdout.contains("/128"), "\(route.stdout)")
        func frame(_ keys: String) throws -> String {
            let out = try runIdamoe(["inspect", ck, "--probe", probe, "--headless", "--size", "120x40", "--keys", keys])
            #expect(out.status == 0, "\(out.stderr)")
            return out.stdout
        }
        let overview = try frame("1")
        #expect(overview.contains("fair 1/E = per layer's E") && overview.contains("E=8 "), "\(overview)")
        let small = try frame("2")
        #expect(small.contains("│e7 ") && !small.contains("│e8 ") && small.contains("fair 1/E = 12.5%"), "\(small)")
        let large = try frame("2 ] ] ] / e 1 2 0 Enter")
        #expect(large.contains("E=128") && large.contains("of 128") && large.contains("e120: load"), "\(large)")
        let wrong = try frame("2 / e 1 2 0 Enter")
        #expect(wrong.contains("no expert") && wrong.contains("e0...e7"), "\(wrong)")
    }

    @Test("tmux: the scaled fixture pages, jumps and resizes in a real terminal",
          .enabled(if: tmuxAvailable || ProcessInfo.processInfo.environment["CI"] == "true"))
    func tmuxScaled() throws {
        #expect(tmuxAvailable, "tmux is required in CI")
        guard let fixture = scaledFixture else {
            Issue.record("bench synth failed")
            return
        }
        let session = "idamoe-scaled-\(getpid())"
        try startTmuxSession(session, width: 120, height: 40, command: "env TERM=xterm-256color LANG=C.UTF-8 "
            + "\(idamoeBinary()) inspect \(fixture.checkpoint) --probe \(fixture.probe); sleep 30")
        defer { _ = try? shell("\(tmux) kill-session -t \(session) 2>/dev/null") }
        func waitFor(_ needle: String) throws -> String { try tmuxScreen(session) { $0.contains(needle) } }
        func keys(_ k: String) throws { try shell("\(tmux) send-keys -t \(session) \(k)") }

        let first = try waitFor("of 48")
        #expect(first.contains("layers 0-") && first.contains("▶ L0"), "\(first)")
        try keys("PgDn")
        let paged = try waitFor("▲▼")
        #expect(!paged.contains("▶ L0 ") && paged.contains("▲▼"), "\(paged)")
        try keys("2 / e 9 9 Enter")
        let jumped = try waitFor("e99: load")
        #expect(jumped.contains("of 128 ▲▼"), "\(jumped)")
        // The wheel (SGR scroll down on the load panel) selects the next expert.
        try shell("\(tmux) send-keys -t \(session) -l \"$(printf '\\033[<65;12;8M')\"")
        #expect(try waitFor("e100: load").contains("e100"))
        try shell("\(tmux) resize-window -t \(session) -x 80 -y 24")
        // At 80x24 the load panel pages around the selection still: e100 is on screen with its position.
        let small = try tmuxScreen(session) { $0.contains("│e100") }
        #expect(small.contains("│e100") && small.contains("of 128"), "\(small)")
        try keys("q")
    }
}
