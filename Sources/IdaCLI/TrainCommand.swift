import ArgumentParser
import IdaRouting
import Foundation
import IdaNumerics
import IdaTraining

/// `idamoe train`: trains a small MoE transformer on the CPU and writes a live run directory.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a small MoE transformer on the CPU, writing a live run directory.",
        discussion: "Default corpus: Debian's fortunes (one domain per file). Kill it at any moment; --resume DIR continues.\n\n"
            + SettingOptions.help())

    @Option(help: "Run directory (default: runs/<timestamp>-<router>).") var runDir: String?
    @Option(help: "Continue the run in this directory from its newest complete snapshot to its planned step count, with the settings in its run.json (only --steps and --threads may be given).")
    var resume: String?
    @OptionGroup var settings: SettingOptions
    @Flag(help: "Plain log lines even in a terminal.") var quiet = false
    @Flag(name: .customLong("log-in-run"), help: ArgumentHelp("Once the run is created, append standard output and error to RUN/train.log (idamoe demo's trainer).", visibility: .hidden))
    var logInRun = false

    func run() throws {
        tuneAllocator()
        let trainer: Trainer
        let dir: String
        if let resume {
            let given = try settings.given()
            try refuseChangesOnResume(given)
            dir = resume
            let plan = try settings.applied().training
            let steps = given.contains { $0.key == "steps" } ? plan.steps : nil
            let threads = given.contains { $0.key == "threads" } ? plan.threads : nil
            trainer = try SettingFlags.naming { try Trainer(resuming: resume, steps: steps, threads: threads) }
        } else {
            let (config, options) = try settings.applied()
            dir = runDir ?? defaultRunDirectory(suffix: config.router.rawValue)
            trainer = try SettingFlags.naming { try Trainer(config: config, options: options, runDir: dir) }
        }
        if logInRun { try redirectOutput(to: trainer.run.layout.path("train.log")) }
        let live = !quiet && isatty(2) != 0
        StandardError.write("idamoe train: \(trainer.model.parameterCount) parameters, \(trainer.dataset.domainNames.count) domains, run \(dir)\n")
        var lastPrinted = Date.distantPast
        StopSignals.install()
        try trainer.train(shouldStop: { StopSignals.requested != nil }) { r in
            let val = r.validationBitsPerByte.map { String(format: " val %.3f bpb", $0) } ?? ""
            let text = String(format: "step %d/%d  loss %.4f  %.0f tok/s  CVmean %.3f%@  ETA %@",
                              r.step, r.steps, r.loss, r.tokensPerSecond, r.cvMean, val, formatDuration(r.eta))
            if live {
                if Date().timeIntervalSince(lastPrinted) > 0.2 || r.step == r.steps {
                    StandardError.write("\r\u{1B}[K" + text)
                    lastPrinted = Date()
                }
            } else if r.step % 10 == 0 || r.step == r.steps || r.step == 1 {
                StandardError.write(text + "\n")
            }
        }
        if live { StandardError.write("\n") }
        if let signo = StopSignals.requested, trainer.step < trainer.options.steps {
            StandardError.write("idamoe train: stopped by \(StopSignals.name(signo)) after step \(trainer.step); "
                                + "continue with: idamoe train --resume \(dir)\n")
            throw ExitCode(128 + signo)
        }
    }
}

/// "runs/20261207-141500-ida": the default run directory, with "-2", "-3", ... when a run started in
/// the same second already took the name.
func defaultRunDirectory(suffix: String) -> String {
    let stamp = DateFormatter()
    stamp.dateFormat = "yyyyMMdd-HHmmss"
    let base = "runs/\(stamp.string(from: Date()))-\(suffix)"
    var candidate = base
    var n = 2
    while FileManager.default.fileExists(atPath: candidate) {
        candidate = "\(base)-\(n)"
        n += 1
    }
    return candidate
}

/// Appends standard output and error to `path` from now on (a file the run owns, never a link).
func redirectOutput(to path: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o644)
    guard fd >= 0 else { throw ValidationError("cannot open \(path) for the training log (\(String(cString: strerror(errno))))") }
    dup2(fd, 1)
    dup2(fd, 2)
    close(fd)
}

/// 75 -> "1m15s".
func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "-" }
    let s = Int(seconds.rounded())
    if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m" }
    if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
    return "\(s)s"
}

extension TrainCommand {
    /// A resumed run keeps the settings in its run.json: only --steps (a new plan, recorded) and
    /// --threads (recorded) may be given with --resume; any other setting would silently change the math.
    func refuseChangesOnResume(_ flags: [SettingOptions.Given]) throws {
        var given = flags.filter { $0.key != "steps" && $0.key != "threads" }.map(\.flag)
        if runDir != nil { given.append("--run-dir") }
        guard given.isEmpty else {
            throw ValidationError("\(given.joined(separator: ", ")) cannot be given with --resume: a resumed run keeps the "
                                  + "settings in its run.json (only --steps and --threads may change); start a new run to change them")
        }
    }
}
