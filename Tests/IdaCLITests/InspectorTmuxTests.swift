import Foundation
import IdaRouting
import IdaFormats
import IdaTestSupport
import Testing

let tmuxAvailable = (try? shell("command -v tmux"))?.isEmpty == false

/// `tmux` on a server of this test process's own (a socket named after its pid), so that sessions
/// never meet a server another process is starting or shutting down.
let tmux = "tmux -L idamoe-test-\(getpid())"

/// Starts a detached tmux session `name` of `width` x `height` running `command`, retrying while it
/// does not come up: a new session can race a tmux server that is exiting after the previous test
/// process killed its last session. The server must not inherit our pipes, or reading them never ends.
func startTmuxSession(_ name: String, width: Int, height: Int, command: String) throws {
    for _ in 0..<20 {
        try shell("\(tmux) kill-session -t \(name) 2>/dev/null; true")
        try shell("\(tmux) new-session -d -s \(name) -x \(width) -y \(height) \"\(command)\" > /dev/null 2>&1 < /dev/null")
        if try shell("\(tmux) has-session -t \(name) 2>/dev/null && echo up").contains("up") { return }
        usleep(250_000)
    }
    Issue.record("tmux session \(name) did not start")
}

/// The pane of `session` once `done` holds for it (polled for up to 10 s, so a slow machine only
/// waits longer), or the last capture when it never does.
func tmuxScreen(_ session: String, until done: (String) -> Bool) throws -> String {
    var screen = ""
    for _ in 0..<50 {
        screen = try shell("\(tmux) capture-pane -p -t \(session)")
        if done(screen) { return screen }
        usleep(200_000)
    }
    return screen
}

@Suite("Inspector in a real terminal (tmux)", .serialized)
struct InspectorTmuxTests {
    @Test("start, switch every screen, help, resize (also below the minimum), quit with the terminal restored",
          .enabled(if: tmuxAvailable || ProcessInfo.processInfo.environment["CI"] == "true"))
    func endToEnd() throws {
        #expect(tmuxAvailable, "tmux is required in CI")
        let dir = temporaryDirectory()
        let corpus = try makeTinyCorpus(in: dir)
        let train = try runIdamoe(["train", "--run-dir", dir + "/run", "--corpus", corpus, "--steps", "4",
                                   "--snapshot-every", "2", "--eval-every", "2"] + tinyModelArguments)
        #expect(train.status == 0, "\(train.stderr)")

        let session = "idamoe-test-\(getpid())"
        let marker = dir + "/exit-status"
        try startTmuxSession(session, width: 100, height: 30, command: "env TERM=xterm-256color LANG=C.UTF-8 "
            + "\(idamoeBinary()) inspect \(dir)/run; echo \\$? > \(marker); stty -a > \(dir)/stty; sleep 30")
        defer { _ = try? shell("\(tmux) kill-session -t \(session) 2>/dev/null") }
        func waitFor(_ needle: String) throws -> String { try tmuxScreen(session) { $0.contains(needle) } }
        func keys(_ k: String) throws { try shell("\(tmux) send-keys -t \(session) \(k)") }

        let first = try waitFor("expert load")
        #expect(first.contains("1 Overview") && first.contains("expert load"), "\(first)")
        // Each screen is recognised by a panel only it draws (the tab bar always lists every title).
        for (key, panel) in [("2", "priors π"), ("3", "latent · layer"), ("4", "probe text"), ("5", "snapshots ("),
                             ("1", "expert load")] {
            try keys(key)
            let screen = try waitFor(panel)
            #expect(screen.contains(panel), "after \(key):\n\(screen)")
        }
        try keys("'?'")
        #expect(try waitFor("any key closes").contains("quit"))
        try keys("Escape")
        // Mouse: an xterm (SGR) click on the first expert's load bar selects it.
        try keys("2")
        _ = try waitFor("priors π")
        try shell("\(tmux) send-keys -t \(session) -l \"$(printf '\\033[<0;12;5M\\033[<0;12;5m')\"")
        let clicked = try waitFor("e0: load")
        #expect(clicked.contains("e0: load"), "after a click on e0's bar:\n\(clicked)")
        // Live text: typed on the tokens screen, run through the snapshot's model.
        try keys("4")
        _ = try waitFor("probe text")
        try keys("e h i Enter")
        let typed = try waitFor("typed text @ step 4")
        #expect(typed.contains("typed text @ step 4") && typed.contains("│hi "), "after typing text:\n\(typed)")
        try keys("Escape")
        #expect(try waitFor("probe text").contains("probe text"))
        try shell("\(tmux) resize-window -t \(session) -x 40 -y 10")
        let small = try waitFor("too small")
        #expect(small.contains("too small"), "\(small)")
        try shell("\(tmux) resize-window -t \(session) -x 120 -y 40")
        #expect(try waitFor("probe text").contains("4 Tokens"))
        try keys("q")
        // The shell creates the file before stty has written it: wait for the whole report.
        for _ in 0..<50 where !((try? String(contentsOfFile: dir + "/stty", encoding: .utf8))?.contains("icanon") ?? false) {
            usleep(200_000)
        }
        let status = try String(contentsOfFile: marker, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(status == "0")
        // The terminal is back in canonical mode with echo.
        let stty = try String(contentsOfFile: dir + "/stty", encoding: .utf8)
        #expect(stty.contains(" icanon") && stty.contains(" echo"))
    }

    @Test("two inspectors on one run both follow it and say in their alerts when its files go wrong",
          .enabled(if: tmuxAvailable || ProcessInfo.processInfo.environment["CI"] == "true"))
    func faultsWhileWatching() throws {
        #expect(tmuxAvailable, "tmux is required in CI")
        let dir = temporaryDirectory()
        let corpus = try makeTinyCorpus(in: dir)
        let run = dir + "/run"
        let train = try runIdamoe(["train", "--run-dir", run, "--corpus", corpus, "--steps", "4",
                                   "--snapshot-every", "2", "--eval-every", "2"] + tinyModelArguments)
        #expect(train.status == 0, "\(train.stderr)")
        let sessions = ["idamoe-a-\(getpid())", "idamoe-b-\(getpid())"]
        for s in sessions {
            try startTmuxSession(s, width: 110, height: 34,
                                 command: "env TERM=xterm-256color LANG=C.UTF-8 \(idamoeBinary()) inspect \(run); sleep 30")
        }
        defer { for s in sessions { _ = try? shell("\(tmux) kill-session -t \(s) 2>/dev/null") } }
        func waitFor(_ needle: String, in session: String) throws -> String { try tmuxScreen(session) { $0.contains(needle) } }
        for s in sessions {
            let screen = try waitFor("alerts", in: s)
            #expect(screen.contains("step 4") && !screen.contains("skipped"), "\(s):\n\(screen)")
        }
        // A damaged line, then the directory renamed away: both keep their view and say so.
        let handle = try #require(FileHandle(forWritingAtPath: RunLayout(run).events))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{damaged\n".utf8))
        try handle.close()
        for s in sessions { #expect(try waitFor("skipped 1 line", in: s).contains("skipped 1 line"), "\(s)") }
        try FileManager.default.moveItem(atPath: run, toPath: run + "-moved")
        for s in sessions {
            let screen = try waitFor("is gone", in: s)
            #expect(screen.contains("is gone (deleted or renamed)") && screen.contains("expert load"), "\(s):\n\(screen)")
        }
        // Back under its name: the alert clears. A truncated newest snapshot: an inspector opened on
        // the run now says the step cannot be analysed, and keeps running.
        try FileManager.default.moveItem(atPath: run + "-moved", toPath: run)
        for s in sessions {
            let cleared = try tmuxScreen(s) { $0.contains("alerts") && !$0.contains("is gone") }
            #expect(!cleared.contains("is gone"), "\(s):\n\(cleared)")
        }
        let newest = RunLayout(run).snapshot(step: 4)
        let handle4 = try #require(FileHandle(forWritingAtPath: newest))
        try handle4.truncate(atOffset: 100)
        try handle4.close()
        try startTmuxSession(sessions[1], width: 110, height: 34,
                             command: "env TERM=xterm-256color LANG=C.UTF-8 \(idamoeBinary()) inspect \(run); sleep 30")
        let damaged = try waitFor("cannot be analysed", in: sessions[1])
        #expect(damaged.contains("step 4 cannot be analysed") && !damaged.contains("is gone"), "\(damaged)")
    }
}
