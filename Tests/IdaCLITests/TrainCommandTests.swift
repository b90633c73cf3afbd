import Foundation
import IdaTestSupport
import Testing

@Suite("idamoe train, end to end")
struct TrainCommandTests {
    func corpus(in dir: String) throws -> String { try makeTinyCorpus(in: dir) }

    let tiny = tinyModelArguments

    @Test("a tiny run writes a run directory that idamoe route reads; an existing run is never overwritten")
    func tinyRun() throws {
        let dir = temporaryDirectory()
        let c = try corpus(in: dir)
        let run = try runIdamoe(["train", "--run-dir", dir + "/run", "--corpus", c, "--steps", "4",
                                 "--snapshot-every", "2", "--eval-every", "2"] + tiny)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("step 4/4"))
        let route = try runIdamoe(["route", "--checkpoint", dir + "/run/snapshots/step-00000004.safetensors",
                                   "--probe", dir + "/run/snapshots/step-00000004.probe.safetensors"])
        #expect(route.status == 0, "\(route.stderr)")
        #expect(route.stdout.contains("ida router, step 4"))
        // Live text: typed on the tokens screen, run through the snapshot's model and routed.
        let live = try runIdamoe(["inspect", dir + "/run", "--headless", "--size", "120x40",
                                  "--keys", "4 e h i Space t h e r e Enter", "--frame"])
        #expect(live.status == 0, "\(live.stderr)")
        #expect(live.stdout.contains("typed text @ step 4") && live.stdout.contains("│hi there "), "\(live.stdout)")
        let routersOnly = try runIdamoe(["inspect", repositoryFile("fixtures/tiny-ida.safetensors"), "--probe",
                                         repositoryFile("fixtures/tiny-probe.safetensors"), "--headless", "--size", "200x40",
                                         "--keys", "4 e a Enter", "--frame"])
        #expect(routersOnly.stdout.contains("holds routers only"), "\(routersOnly.stdout)")
        let before = try String(contentsOfFile: dir + "/run/events.jsonl", encoding: .utf8)
        let again = try runIdamoe(["train", "--run-dir", dir + "/run", "--corpus", c, "--steps", "4"] + tiny)
        #expect(again.status == 1)
        #expect(again.stderr.contains("already holds a run"))
        #expect(try String(contentsOfFile: dir + "/run/events.jsonl", encoding: .utf8) == before)
    }

    @Test("bad input: one line, non-zero exit")
    func badInput() throws {
        let dir = temporaryDirectory()
        // Exit 64 for a bad flag value (as every command), 1 for a problem met while running.
        let cases: [([String], String, Int32)] = [
            (["train", "--run-dir", dir + "/a", "--corpus", dir + "/nothing-here"] + tiny, "apt-get install fortunes", 1),
            (["train", "--run-dir", dir + "/b", "--router", "hash"] + tiny, "--router takes ida|softmax|sigmoid-bias, not 'hash'", 64),
            (["train", "--run-dir", dir + "/b", "--router", "sigmoid-bias", "--z-loss", "0.1"] + tiny,
             "--z-loss must be 0 for the sigmoid-bias router", 64),
            (["train", "--run-dir", dir + "/b", "--holdout-domains", ""] + tiny, "--holdout-domains domain names must not be empty", 64),
            (["train", "--run-dir", dir + "/b", "--holdout-domains", "nope"] + tiny, "--holdout-domains 'nope' is not a domain of the corpus", 64),
            (["train", "--run-dir", dir + "/b", "--latent-norm", "layer"] + tiny, "--latent-norm takes none|rms, not 'layer'", 64),
            (["train", "--run-dir", dir + "/c", "--top-k", "9"] + tiny, "--top-k must be 1...4", 64),
            (["train", "--run-dir", dir + "/c"] + tiny + ["--heads", "3"], "--width must be a positive multiple of heads", 64),
            (["train", "--resume", dir + "/none", "--quiet"], "is not a run directory", 1),
        ]
        for (arguments, needle, status) in cases {
            let run = try runIdamoe(arguments)
            #expect(run.status == status, "\(arguments): \(run.status)")
            #expect(run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")
            #expect(run.stderr.contains(needle), "\(run.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/b/run.json"))
    }
}
