import Foundation
import IdaTestSupport
import Testing

/// Every bad input end to end, as a hostile user or a full disk would try it (docs/reliability.md): each
/// case is one line on standard error and a non-zero exit (1 for files, 64 for flags), never a hang, a
/// crash or a write where the user did not ask for one.
@Suite("Hostile input, end to end")
struct HostileInputTests {
    let tiny = tinyModelArguments

    /// One line on stderr starting "Error: ", no backtrace.
    func oneLine(_ out: RunOutput) -> Bool {
        out.stderr.hasPrefix("Error: ") && out.stderr.filter { $0 == "\n" }.count == 1 && !out.stderr.contains("Backtrace")
    }

    /// A finished tiny run (trained once for the suite) and its corpus.
    static let run: (dir: String, corpus: String)? = {
        let dir = temporaryDirectory()
        guard let corpus = try? makeTinyCorpus(in: dir),
              let out = try? runIdamoe(["train", "--run-dir", dir + "/run", "--corpus", corpus, "--steps", "4",
                                        "--snapshot-every", "2", "--eval-every", "2"] + tinyModelArguments),
              out.status == 0 else { return nil }
        return (dir + "/run", corpus)
    }()

    @Test("a run is written only into a new path or an empty directory; nothing is written anywhere else")
    func whereRunsGo() throws {
        let dir = temporaryDirectory()
        let corpus = try makeTinyCorpus(in: dir)
        let busy = dir + "/busy"
        try FileManager.default.createDirectory(atPath: busy, withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: URL(fileURLWithPath: busy + "/notes.txt"))
        try Data("mine".utf8).write(to: URL(fileURLWithPath: dir + "/file"))
        _ = symlink(dir + "/empty-target", dir + "/link")
        try FileManager.default.createDirectory(atPath: dir + "/empty-target", withIntermediateDirectories: true)
        let rootBefore = try FileManager.default.contentsOfDirectory(atPath: "/").sorted()
        for (target, needle) in [("", "the directory path is empty"), ("/", "/: exists and is not empty"),
                                 (busy, "exists and is not empty (1 entry)"), (dir + "/file", "is a regular file, not a directory"),
                                 (dir + "/link", "is a symbolic link, not a directory")] {
            let out = try runIdamoe(["train", "--run-dir", target, "--corpus", corpus, "--steps", "2"] + tiny)
            #expect(out.status == 1 && oneLine(out) && out.stderr.contains(needle), "\(target): \(out.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: busy) == ["notes.txt"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/empty-target").isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "/").sorted() == rootBefore)
        let synth = try runIdamoe(["bench", "synth", busy, "--layers", "1", "--experts", "4", "--tokens", "16"])
        #expect(synth.status == 1 && synth.stderr.contains("exists and is not empty"), "\(synth.stderr)")
        // An empty directory is fine, and a new path with missing parents.
        let ok = try runIdamoe(["train", "--run-dir", dir + "/empty-target", "--corpus", corpus, "--steps", "1"] + tiny)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/empty-target/lock"), "no lock file: the lock is the directory's")
        let nested = try runIdamoe(["train", "--run-dir", dir + "/a/b/c", "--corpus", corpus, "--steps", "1"] + tiny)
        #expect(nested.status == 0, "\(nested.stderr)")
    }

    @Test("sizes from flags are checked before anything is allocated: one line, exit 64",
          arguments: [["--width", "1099511627776"], ["--expert-hidden", "1099511627776"], ["--router-hidden", "1099511627776"],
                      ["--batch", "1000000000000"], ["--blocks", "100000000"], ["--router-hidden", "16,,16"],
                      ["--threads", "100000"], ["--steps", "100000000"], ["--context", "65536", "--batch", "4096"]])
    func flagSizes(flags: [String]) throws {
        let dir = temporaryDirectory()
        let out = try runIdamoe(["train", "--run-dir", dir + "/run"] + flags, timeout: 60)
        #expect(out.status == 64 && oneLine(out), "\(flags): \(out.status) \(out.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/run"))
    }

    @Test("bench synth refuses sizes its readers refuse and sizes beyond the free disk, exit 64",
          arguments: [["--tokens", "10000000000"], ["--layers", "5000"], ["--experts", "2000"], ["--components", "300"],
                      ["--top-k", "100"], ["--width", "100000"], ["--tokens", "1000000000", "--width", "4096"]])
    func synthSizes(flags: [String]) throws {
        let out = try runIdamoe(["bench", "synth", temporaryDirectory() + "/s"] + flags, timeout: 60)
        #expect(out.status == 64 && oneLine(out), "\(flags): \(out.stderr)")
    }

    @Test("a FIFO named as any file idamoe reads is refused at once: info, route, diff, inspect, resume")
    func fifos() throws {
        let (run, _) = try #require(Self.run)
        let dir = temporaryDirectory()
        let fifo = dir + "/fifo.safetensors"
        #expect(mkfifo(fifo, 0o644) == 0)
        let snapshot = run + "/snapshots/step-00000004.safetensors", probe = run + "/snapshots/step-00000004.probe.safetensors"
        for args in [["info", fifo], ["route", "--checkpoint", fifo, "--probe", probe], ["route", "--checkpoint", snapshot, "--probe", fifo],
                     ["diff", fifo, snapshot, "--probe", probe], ["inspect", snapshot, "--probe", fifo, "--headless"]] {
            let out = try runIdamoe(args, timeout: 30)
            #expect(out.status == 1 && out.stderr.contains("not a regular file"), "\(args): \(out.stderr)")
        }
        for name in ["run.json", "events.jsonl"] {
            let copy = temporaryDirectory() + "/run"
            try FileManager.default.copyItem(atPath: run, toPath: copy)
            unlink(copy + "/" + name)
            #expect(mkfifo(copy + "/" + name, 0o644) == 0)
            let out = try runIdamoe(["train", "--resume", copy, "--steps", "6"], timeout: 30)
            #expect(out.status == 1 && oneLine(out) && out.stderr.contains("not a regular file"), "\(name): \(out.stderr)")
        }
    }

    @Test("escape sequences, NUL and bidi overrides in a file's names never reach the terminal raw")
    func untrustedText() throws {
        let (run, _) = try #require(Self.run)
        let dir = temporaryDirectory()
        let probe = dir + "/evil.probe.safetensors"
        let source = run + "/snapshots/step-00000004.probe.safetensors"
        // The same probe with domain names and a metadata entry that would clear the screen, set the
        // title, cut the output with an open OSC, or reverse the line.
        let evil = ["pro\u{1B}]0;OWNED\u{07}se", "co\u{1B}[2Jde", "ma\u{202E}ht", "nul\u{0}\u{9B}31m", "\u{1B}]8;;x"]
        try rewrite(source, to: probe, metadata: ["idamoe.domain_names": String(decoding: try JSONSerialization.data(withJSONObject: evil), as: UTF8.self),
                                                  "evil\u{1B}[2J": "\u{1B}]0;title\u{07}"])
        let snapshot = run + "/snapshots/step-00000004.safetensors"
        for args in [["info", probe], ["info", probe, "--json"], ["diff", snapshot, snapshot, "--probe", probe],
                     ["diff", snapshot, snapshot, "--probe", probe, "--json"],
                     ["route", "--checkpoint", snapshot, "--probe", probe, "--specialisation"]] {
            let out = try runIdamoe(args)
            #expect(out.status == 0, "\(args): \(out.stderr)")
            let bad = (out.stdout + out.stderr).unicodeScalars.filter {
                ($0.value < 0x20 && $0 != "\n") || (0x7F...0x9F).contains($0.value) || (0x202A...0x202E).contains($0.value)
            }
            #expect(bad.isEmpty, "\(args) printed \(bad.map { String($0.value, radix: 16) })")
        }
        let info = try runIdamoe(["info", probe])
        #expect(info.stdout.contains("pro\\u{1b}]0;OWNED\\u{7}se"), "\(info.stdout)")
        // JSON stays the same value: the escapes are JSON's.
        let json = try runIdamoe(["info", probe, "--json"])
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(parsed["domains"] as? [String] == evil)
    }

    /// `source`'s tensors under its metadata changed by `metadata`.
    func rewrite(_ source: String, to path: String, metadata: [String: String]) throws {
        let script = """
        import json, sys
        from safetensors import safe_open
        from safetensors.numpy import save_file
        src, dst, extra = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
        with safe_open(src, "np") as f:
            meta = dict(f.metadata()); tensors = {k: f.get_tensor(k) for k in f.keys()}
        meta.update(extra)
        save_file(tensors, dst, metadata=meta)
        """
        let extra = String(decoding: try JSONSerialization.data(withJSONObject: metadata), as: UTF8.self)
        let out = try runChild("/usr/bin/env", ["python3", "-c", script, source, path, extra])
        #expect(out.status == 0, "\(out.stderr)")
    }

    @Test("standard output on a full device: one line and exit 1; a closed pipe ends quietly")
    func writeErrors() throws {
        let (run, _) = try #require(Self.run)
        let snapshot = run + "/snapshots/step-00000004.safetensors", probe = run + "/snapshots/step-00000004.probe.safetensors"
        let bin = idamoeBinary()
        for args in [["route", "--checkpoint", snapshot, "--probe", probe], ["route", "--checkpoint", snapshot, "--probe", probe, "--jsonl"],
                     ["info", snapshot], ["info", snapshot, "--json"], ["diff", run, run], ["diff", run, run, "--json"],
                     ["inspect", run, "--headless"], ["info", "--system"]] {
            let quoted = ([bin] + args).map { "'\($0)'" }.joined(separator: " ")
            let full = try runChild("/bin/bash", ["-c", "\(quoted) > /dev/full"])
            #expect(full.status == 1 && full.stderr == "Error: cannot write to standard output (No space left on device)\n",
                    "\(args): \(full.status) \(full.stderr)")
        }
        // A reader that stops after the first bytes: route's JSON lines end quietly, status 0.
        let quoted = [bin, "route", "--checkpoint", snapshot, "--probe", probe, "--jsonl", "--posterior"].map { "'\($0)'" }.joined(separator: " ")
        let piped = try runChild("/bin/bash", ["-c", "\(quoted) | head -c 100 > /dev/null; echo \"status ${PIPESTATUS[0]}\""])
        #expect(piped.stdout == "status 0\n" && piped.stderr.isEmpty, "\(piped.stdout) \(piped.stderr)")
    }

    @Test("probe domain ids: an id with no name is refused; unnamed ids cost what is present")
    func domainIDs() throws {
        let (run, _) = try #require(Self.run)
        let snapshot = run + "/snapshots/step-00000004.safetensors", source = run + "/snapshots/step-00000004.probe.safetensors"
        let dir = temporaryDirectory()
        let script = """
        import json, sys
        import numpy as np
        from safetensors import safe_open
        from safetensors.numpy import save_file
        src, dst, first, named = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
        with safe_open(src, "np") as f:
            meta = dict(f.metadata()); tensors = {k: f.get_tensor(k) for k in f.keys()}
        d = tensors["domains"].copy(); d[0] = first; d[1:] = np.where(d[1:] > 0, 60000, 0); tensors["domains"] = d
        if not named: meta.pop("idamoe.domain_names", None)
        save_file(tensors, dst, metadata=meta)
        """
        for (first, named, refused) in [(1_000_000_000, true, true), (1_000_000_000, false, true), (-5, false, true), (7, true, true), (3, false, false)] {
            let probe = dir + "/p\(first)\(named).safetensors"
            let made = try runChild("/usr/bin/env", ["python3", "-c", script, source, probe, "\(first)", named ? "1" : "0"])
            #expect(made.status == 0, "\(made.stderr)")
            let started = Date()
            let out = try runIdamoe(["diff", snapshot, snapshot, "--probe", probe, "--json"], timeout: 60)
            #expect(Date().timeIntervalSince(started) < 30)
            if refused {
                #expect(out.status == 1 && oneLine(out) && out.stderr.contains("domain id"), "\(first) \(named): \(out.stderr)")
            } else {
                #expect(out.status == 0, "\(out.stderr)")
                let json = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
                let layers = try #require(json["layers"] as? [[String: Any]])
                let ids = (layers.first?["domains"] as? [[String: Any]])?.compactMap { $0["id"] as? Int }
                #expect(ids == [0, 3, 60000], "\(String(describing: ids))")
            }
        }
    }

    @Test("small things: --log-var-min -8, FILE@STEP, a PyTorch-written run, leftovers of interrupted writes")
    func smallThings() throws {
        let (run, corpus) = try #require(Self.run)
        let dir = temporaryDirectory()
        let negative = try runIdamoe(["train", "--run-dir", dir + "/lv", "--corpus", corpus, "--steps", "1", "--log-var-min", "-8"] + tiny)
        #expect(negative.status == 0, "\(negative.stderr)")
        #expect(try String(contentsOfFile: dir + "/lv/run.json", encoding: .utf8).contains("\"logVarMin\" : -8"))
        let snapshot = run + "/snapshots/step-00000004.safetensors"
        let fileStep = try runIdamoe(["diff", snapshot + "@2", run])
        #expect(fileStep.status == 1 && fileStep.stderr.contains("@STEP picks a snapshot of a run directory"), "\(fileStep.stderr)")
        // A run another producer wrote cannot be resumed, and says so.
        let torch = dir + "/torch"
        try FileManager.default.copyItem(atPath: run, toPath: torch)
        var manifest = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: torch + "/run.json"))) as? [String: Any])
        manifest["producer"] = "idamoe_torch 0.1.0"
        try JSONSerialization.data(withJSONObject: manifest).write(to: URL(fileURLWithPath: torch + "/run.json"))
        let resumed = try runIdamoe(["train", "--resume", torch, "--steps", "6"])
        #expect(resumed.status == 1 && resumed.stderr.contains("only runs written by idamoe train can be resumed"), "\(resumed.stderr)")
        // Temporary files of interrupted atomic writes go on resume.
        let copy = dir + "/copy"
        try FileManager.default.copyItem(atPath: run, toPath: copy)
        for leftover in ["run.json.tmp-123", "snapshots/step-00000006.safetensors.tmp-99", "snapshots/step-00000006.optim.safetensors.tmp-4"] {
            try Data("partial".utf8).write(to: URL(fileURLWithPath: copy + "/" + leftover))
        }
        try Data("keep".utf8).write(to: URL(fileURLWithPath: copy + "/notes.tmp-x"))
        let cont = try runIdamoe(["train", "--resume", copy, "--steps", "6"])
        #expect(cont.status == 0, "\(cont.stderr)")
        let names = try FileManager.default.subpathsOfDirectory(atPath: copy)
        #expect(!names.contains { $0.contains(".tmp-") && !$0.hasSuffix("notes.tmp-x") }, "\(names)")
        #expect(names.contains("notes.tmp-x"))
    }

    @Test("SIGQUIT, SIGTERM, SIGINT to a training run: it stops between steps with 128+n, resumable, no crash report")
    func signals() throws {
        let (_, corpus) = try #require(Self.run)
        for signo in [SIGQUIT, SIGTERM, SIGINT] {
            let dir = temporaryDirectory() + "/run"
            let bin = idamoeBinary()
            let args = [bin, "train", "--run-dir", dir, "--corpus", corpus, "--steps", "100000"] + tiny
            let quoted = args.map { "'\($0)'" }.joined(separator: " ")
            // Started from bash so the signal goes to a process whose handler is ours; it waits for the
            // first snapshot-free step to be logged before signalling.
            let script = "\(quoted) 2> \(dir).err & p=$!; for i in $(seq 100); do [ -s \(dir)/events.jsonl ] && grep -q '\"kind\":\"step\"' \(dir)/events.jsonl && break; sleep 0.1; done; "
                + "kill -\(signo) $p; wait $p; echo $?"
            let out = try runChild("/bin/bash", ["-c", script], timeout: 120)
            #expect(out.stdout == "\(128 + signo)\n", "signal \(signo): \(out.stdout) \(out.stderr)")
            let err = (try? String(contentsOfFile: dir + ".err", encoding: .utf8)) ?? ""
            #expect(err.contains("continue with: idamoe train --resume") && !err.contains("Crash") && !err.contains("Backtrace"), "\(err)")
            let events = try String(contentsOfFile: dir + "/events.jsonl", encoding: .utf8)
            #expect(events.hasSuffix("\n"), "no torn line")
            let resumed = try runIdamoe(["train", "--resume", dir, "--steps", "12"])
            #expect(resumed.status == 0, "\(resumed.stderr)")
        }
    }
}
