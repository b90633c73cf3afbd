import ArgumentParser
import IdaRouting
import Foundation
import IdaFormats
import IdaCurses
import IdaInspector
import IdaNumerics
import IdaTraining

/// `idamoe demo`: trains on the default corpus in the background and watches it live.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Train on the default corpus in the background and open the inspector on the run.",
        discussion: "Quitting the inspector asks whether to stop training; --detach leaves it running. The demo snapshots and "
            + "evaluates every 100 steps unless told otherwise.\n\n" + SettingOptions.help())

    @OptionGroup var settings: SettingOptions
    @Option(help: "Run directory (default: runs/<timestamp>-demo-<router>).") var runDir: String?
    @Flag(help: "Keep training running after the inspector quits, without asking.") var detach = false
    @Flag(help: "ASCII only (no braille or block characters).") var ascii = false

    func run() throws {
        guard isatty(0) != 0, isatty(1) != 0 else {
            throw ValidationError("idamoe demo needs a terminal; run 'idamoe train' and 'idamoe inspect --headless' instead")
        }
        let router = try settings.applied().model.router
        let dir = runDir ?? defaultRunDirectory(suffix: "demo-\(router.rawValue)")
        // The demo's presets come first; the user's flags, later on the line, win. The trainer creates
        // the run (a new or empty directory only) and then logs into RUN/train.log; until then its
        // output goes to a temporary file, read if it fails to start.
        let presets = ["--snapshot-every", "100", "--eval-every", "100"]
        var template = Array((NSTemporaryDirectory() + "idamoe-demo-XXXXXX").utf8CString)
        let made = mkstemp(&template)
        guard made >= 0 else { throw ValidationError("cannot create a temporary file for the trainer's first output") }
        close(made)
        let startLog = String(cString: template)
        let pid = try spawnTrainer(arguments: ["train", "--run-dir", dir, "--quiet", "--log-in-run"] + presets + settings.arguments(),
                                   log: startLog)
        // Wait for the manifest (corpus loaded, model built) or for the trainer to fail.
        let deadline = Date().addingTimeInterval(60)
        while !RunLayout(dir).isRun {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                let log = (try? SmallFile.read(startLog, limit: 1 << 20)).map { String(decoding: $0, as: UTF8.self) } ?? ""
                unlink(startLog)
                let last = log.split(separator: "\n").last.map(String.init) ?? "exited with status \(status)"
                throw ValidationError("training did not start: " + UntrustedText.sanitized(last))
            }
            if Date() > deadline {
                kill(pid, SIGTERM)
                throw ValidationError("training did not start within 60 s; see \(startLog)")
            }
            usleep(100_000)
        }
        unlink(startLog)
        do {
            let terminal = try CursesTerminal(glyphMode: ascii ? .ascii : nil, mouse: true)
            let app = InspectorApp(source: .run(dir), probe: nil, textProber: makeTextProber(),
                                   workers: configureThreads(nil))
            let exit = app.run(on: CursesBackend(terminal: terminal))
            terminal.restore()
            if case let .signal(signal) = exit {
                // The inspector was stopped (a hang-up, SIGTERM): training, in its own session, goes on.
                try? StandardOutput.line("training continues in the background (pid \(pid)); watch it with: idamoe inspect \(dir)")
                Glibc.exit(128 + signal)
            }
        }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid {
            try StandardOutput.line("training finished; the run is in \(dir)")
            return
        }
        if detach || !askYesNo("Training is still running (pid \(pid), run \(dir)). Stop it? [y/N] ") {
            try StandardOutput.line("training continues in the background (pid \(pid)); watch it with: idamoe inspect \(dir)")
            try StandardOutput.line("stop it with: kill \(pid); continue a stopped run with: idamoe train --resume \(dir)")
            return
        }
        kill(pid, SIGTERM)
        _ = waitpid(pid, &status, 0)
        try StandardOutput.line("training stopped; resume it with: idamoe train --resume \(dir)")
    }

    /// Starts this binary with `arguments` in its own session (so Ctrl-C in the inspector does not reach it),
    /// with standard output and error appended to `log`.
    func spawnTrainer(arguments: [String], log: String) throws -> pid_t {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_APPEND | O_NOFOLLOW, 0)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, 0x80)  // POSIX_SPAWN_SETSID (glibc <spawn.h>; not imported into Swift)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw ValidationError("cannot start the trainer: \(String(cString: strerror(rc)))") }
        return pid
    }

    func askYesNo(_ question: String) -> Bool {
        try? StandardOutput.write(question)
        guard let answer = readLine() else { return false }
        return answer.lowercased().hasPrefix("y")
    }
}
