import Foundation
import IdaTestSupport
import Testing

/// The interactive inspector gives the terminal back whatever ends it, and refuses terminals it
/// cannot drive.
@Suite("Inspector: signals and terminals (tmux)", .serialized)
struct InspectorSignalTests {
    /// A finished tiny run (4 steps, snapshots at 2 and 4) under a fresh temporary directory.
    static func trainedRun() throws -> (dir: String, run: String) {
        let dir = temporaryDirectory()
        let corpus = try makeTinyCorpus(in: dir)
        let train = try runIdamoe(["train", "--run-dir", dir + "/run", "--corpus", corpus, "--steps", "4",
                                   "--snapshot-every", "2", "--eval-every", "2"] + tinyModelArguments)
        #expect(train.status == 0, "\(train.stderr)")
        return (dir, dir + "/run")
    }

    /// What the pane's terminal is in: alternate screen, keypad (application cursor and keypad
    /// modes), cursor shown, mouse reporting.
    static func modes(_ session: String) throws -> String {
        try shell("\(tmux) display -p -t \(session) 'alt=#{alternate_on} keypad=#{keypad_cursor_flag}#{keypad_flag} "
                  + "cursor=#{cursor_flag} mouse=#{mouse_any_flag}'").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The text of `path` once it holds a line (polled for up to 10 s), or nil.
    static func line(in path: String) -> String? {
        for _ in 0..<50 {
            if let text = try? String(contentsOfFile: path, encoding: .utf8), text.hasSuffix("\n") {
                return text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            usleep(200_000)
        }
        return nil
    }

    @Test("SIGQUIT, SIGTERM, SIGHUP and SIGINT: the inspector gives the terminal back and exits 128 + signal, no crash report",
          .enabled(if: tmuxAvailable || ProcessInfo.processInfo.environment["CI"] == "true"))
    func signals() throws {
        #expect(tmuxAvailable, "tmux is required in CI")
        let (dir, run) = try Self.trainedRun()
        for (name, number) in [("QUIT", 3), ("TERM", 15), ("HUP", 1), ("INT", 2)] {
            let session = "idamoe-sig-\(name)-\(getpid())"
            let marker = dir + "/status-\(name)", stty = dir + "/stty-\(name)"
            try startTmuxSession(session, width: 100, height: 30, command: "env TERM=xterm-256color LANG=C.UTF-8 "
                + "\(idamoeBinary()) inspect \(run); echo \\$? > \(marker); stty -a > \(stty); sleep 30")
            defer { _ = try? shell("\(tmux) kill-session -t \(session) 2>/dev/null") }
            let open = try tmuxScreen(session) { $0.contains("expert load") }
            #expect(open.contains("expert load"), "\(open)")
            #expect(try Self.modes(session) == "alt=1 keypad=11 cursor=0 mouse=1")
            let shellPid = try shell("\(tmux) display -p -t \(session) '#{pane_pid}'").trimmingCharacters(in: .whitespacesAndNewlines)
            let pid = try shell("pgrep -P \(shellPid)").trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(Int32(pid) != nil, "no inspector under \(shellPid)")
            try shell("kill -\(name) \(pid)")
            let status = Self.line(in: marker)
            #expect(status == "\(128 + number)", "SIG\(name): status \(status ?? "none (still running?)")")
            let after = try tmuxScreen(session) { _ in true }
            for needle in ["crashed", "Crash", "Backtrace", "Thread 0", "Press space"] {
                #expect(!after.contains(needle), "SIG\(name) left \(needle):\n\(after)")
            }
            #expect(try Self.modes(session) == "alt=0 keypad=00 cursor=1 mouse=0", "after SIG\(name)")
            #expect(try shell("kill -0 \(pid) 2>/dev/null && echo alive").isEmpty, "SIG\(name): the inspector is still there")
            let modes = Self.line(in: stty) ?? ""
            #expect(modes.contains(" icanon") && modes.contains(" echo"), "SIG\(name): \(modes)")
        }
    }

    @Test("TERM=dumb, a TERM unknown to terminfo and no TERM: one line naming it, exit 1",
          .enabled(if: tmuxAvailable || ProcessInfo.processInfo.environment["CI"] == "true"))
    func terminalsWithoutCursorAddressing() throws {
        #expect(tmuxAvailable, "tmux is required in CI")
        let (dir, run) = try Self.trainedRun()
        for (setting, said) in [("TERM=dumb", "(TERM=dumb)"), ("TERM=idamoe-no-such-term", "(TERM=idamoe-no-such-term, unknown to terminfo)"),
                                ("-u TERM", "(TERM is not set)")] {
            let session = "idamoe-term-\(getpid())"
            let marker = dir + "/status-term", output = dir + "/stderr-term"
            try? FileManager.default.removeItem(atPath: marker)
            try startTmuxSession(session, width: 200, height: 20, command: "env \(setting) LANG=C.UTF-8 "
                + "\(idamoeBinary()) inspect \(run) 2> \(output); echo \\$? > \(marker); sleep 30")
            defer { _ = try? shell("\(tmux) kill-session -t \(session) 2>/dev/null") }
            #expect(Self.line(in: marker) == "1", "\(setting)")
            let message = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            #expect(message == "Error: idamoe inspect needs a terminal with cursor addressing \(said); use --headless\n",
                    "\(setting): \(message)")
        }
    }

    @Test("--size beyond 1000x1000 cells is one line naming the limit, exit 64")
    func sizeLimit() throws {
        let fixture = repositoryFile("fixtures/tiny-ida.safetensors")
        for size in ["5000x5000", "1001x10", "10x1001"] {
            let out = try runIdamoe(["inspect", fixture, "--probe", repositoryFile("fixtures/tiny-probe.safetensors"),
                                     "--headless", "--size", size])
            #expect(out.status == 64 && out.stdout.isEmpty, "\(size): \(out.status)")
            #expect(out.stderr == "Error: --size \(size) is larger than the limit of 1000x1000 cells\n", "\(out.stderr)")
        }
    }
}
