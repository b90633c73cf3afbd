import Foundation
import IdaTestSupport
import Testing

let tmuxAvailable = (try? shell("command -v tmux"))?.isEmpty == false

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
        try shell("tmux kill-session -t \(session) 2>/dev/null; true")
        try shell("""
            tmux new-session -d -s \(session) -x 100 -y 30 "env TERM=xterm-256color LANG=C.UTF-8 \
            \(idamoeBinary()) inspect \(dir)/run; echo \\$? > \(marker); stty -a > \(dir)/stty; sleep 30" \
            > /dev/null 2>&1 < /dev/null
            """)  // the tmux server it starts must not inherit our pipe, or reading it never ends
        defer { _ = try? shell("tmux kill-session -t \(session) 2>/dev/null") }
        func capture() throws -> String {
            usleep(700_000)
            return try shell("tmux capture-pane -p -t \(session)")
        }
        func keys(_ k: String) throws { try shell("tmux send-keys -t \(session) \(k)") }

        let first = try capture()
        #expect(first.contains("1 Overview"), "\(first)")
        for (key, title) in [("2", "2 Layer"), ("3", "3 Latent"), ("4", "4 Tokens"), ("5", "5 Timeline"), ("1", "1 Overview")] {
            try keys(key)
            let screen = try capture()
            #expect(screen.contains(title), "after \(key):\n\(screen)")
        }
        try keys("'?'")
        #expect(try capture().contains("quit"))
        try keys("Escape")
        // Mouse: an xterm (SGR) click on the first expert's load bar selects it.
        try keys("2")
        _ = try capture()
        try shell("tmux send-keys -t \(session) -l \"$(printf '\\033[<0;12;5M\\033[<0;12;5m')\"")
        let clicked = try capture()
        #expect(clicked.contains("e0: load"), "after a click on e0's bar:\n\(clicked)")
        // Live text: typed on the tokens screen, run through the snapshot's model.
        try keys("4 e h i Enter")
        usleep(1_000_000)
        let typed = try capture()
        #expect(typed.contains("typed text @ step 4"), "after typing text:\n\(typed)")
        try keys("Escape")
        #expect(try capture().contains("probe text"))
        try shell("tmux resize-window -t \(session) -x 40 -y 10")
        let small = try capture()
        #expect(small.contains("too small"), "\(small)")
        try shell("tmux resize-window -t \(session) -x 120 -y 40")
        #expect(try capture().contains("1 Overview"))
        try keys("q")
        usleep(800_000)
        let status = try String(contentsOfFile: marker, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(status == "0")
        // The terminal is back in canonical mode with echo.
        let stty = try String(contentsOfFile: dir + "/stty", encoding: .utf8)
        #expect(stty.contains(" icanon") && stty.contains(" echo"))
    }
}
