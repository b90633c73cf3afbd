import IdaBench
import ArgumentParser
import Foundation
import IdaBLAS
import IdaFormats
import IdaInspector
import IdaRouting
import IdaTerminal
import IdaTraining
import IdaSystem

/// `idamoe bench render`: how long the inspector takes to analyse a snapshot, draw each screen and answer
/// a key, and how much CPU it uses while idle, on a synthetic live run with a 50,000-token probe.
struct BenchRenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Inspector speed: snapshot analysis, render and diff time per screen and size, key presses, idle CPU.",
        discussion: """
            Writes a synthetic live run (run.json, events.jsonl, probe, snapshots) to a temporary directory, \
            deleted afterwards, and reads it the way `idamoe inspect` does.
            """)

    @Option(help: "Probe tokens N.") var tokens = 50_000
    @Option(help: "Training steps in the synthetic event log.") var steps = 3000
    @Option(name: .customLong("snapshot-every"), help: "Steps between snapshots.") var snapshotEvery = 200
    @Option(help: "Timed frames per screen (and presses per key) at each size.") var frames = 200
    @Option(help: "Frame sizes, comma-separated COLSxROWS.") var sizes = "80x24,200x60"
    @Option(name: .customLong("idle-seconds"), help: "Length of the idle CPU measurement (0: skip it).") var idleSeconds = 10.0
    @Option(help: "Repetitions of the snapshot analysis.") var analyses = 3
    @OptionGroup var threads: ThreadsOption
    @Flag(help: "ASCII only (no braille or block characters).") var ascii = false
    @Flag(name: .customLong("no-color"), help: "Monochrome.") var noColor = false
    @Flag(help: "Print the figures as one JSON object instead of the table.") var json = false

    func run() throws {
        let frameSizes = try parsedSizes()
        guard tokens > 0, steps > 0, snapshotEvery > 0, frames > 0, analyses > 0, idleSeconds >= 0 else {
            throw ValidationError("--tokens, --steps, --snapshot-every, --frames and --analyses must be positive, --idle-seconds at least 0")
        }
        let cores = try threads.workers()
        let mode = DisplayMode(colors: noColor ? .monochrome : .c256, glyphs: ascii ? .ascii : .unicode)
        let root = NSTemporaryDirectory() + "idamoe-bench-render-\(getpid())"
        try? FileManager.default.removeItem(atPath: root)
        defer { try? FileManager.default.removeItem(atPath: root) }
        var t0 = monotonicSeconds()
        let fixture = try BenchRenderFixture.write(in: root + "/run", tokens: tokens, steps: steps, snapshotEvery: snapshotEvery)
        var report = BenchRenderReport(fixture: fixture, threads: cores,
                                       modeText: (noColor ? "monochrome" : "256 colours") + (ascii ? ", ascii" : ", unicode"))
        report.fixtureSeconds = monotonicSeconds() - t0
        report.fixturePeakMiB = peakResidentMiB()

        // Opening the run as `idamoe inspect RUN --headless` does: every event, the newest snapshot analysed, a frame.
        let largest = frameSizes.last ?? (200, 60)
        t0 = monotonicSeconds()
        let app = InspectorApp(source: .run(fixture.directory), probe: nil, workers: cores)
        _ = app.headlessFrame(width: largest.0, height: largest.1, keys: [], mode: mode)
        report.openSeconds = monotonicSeconds() - t0
        report.openPeakMiB = peakResidentMiB()
        guard app.state.analysis != nil else {
            throw BenchRenderError("the inspector did not analyse the synthetic snapshot: \(app.state.message ?? "no message")")
        }
        try measureAnalysis(fixture, previous: app.state.analysis, into: &report)

        let timer = BenchRenderFrames(base: app.state, mode: mode, frames: frames)
        for (width, height) in frameSizes {
            for (name, screen, help) in BenchRenderFrames.screens {
                report.screens.append(timer.screen(name, screen, help: help, width: width, height: height))
            }
        }
        for (width, height) in frameSizes {
            for (name, screen, keys) in BenchRenderFrames.keys {
                report.keys.append(timer.key(name, screen, keys: keys, width: width, height: height))
            }
        }
        if idleSeconds > 0 {
            report.idleSize = (largest.0, largest.1)
            report.idle = try BenchRenderIdle.measure(directory: fixture.directory, seconds: idleSeconds,
                                                      width: largest.0, height: largest.1, mode: mode, workers: cores)
        }
        report.peakMiB = peakResidentMiB()
        try StandardOutput.line(json ? report.json() : report.table())
    }

    /// Times `SnapshotAnalysis` of the newest snapshot (files opened, every layer routed, latents
    /// projected) and, on its own, the routing inside it.
    func measureAnalysis(_ fixture: BenchRenderFixture, previous: SnapshotAnalysis?, into report: inout BenchRenderReport) throws {
        guard let step = fixture.snapshots.last else { return }
        let checkpointPath = RunLayout(fixture.directory).snapshot(step: step)
        let probePath = RunLayout(fixture.directory).probe(step: step)
        for _ in 0..<analyses {
            var t0 = monotonicSeconds()
            let checkpoint = try RouterCheckpoint(path: checkpointPath)
            let probe = try Probe(path: probePath)
            let routing = try ProbeRouting(checkpoint: checkpoint, probe: probe, blockSize: 4096)
            try routing.run(workers: report.threads, keepLatents: true, reconstruct: true,
                            transform: { _, _ in () }, consume: { _ in })
            report.routingSeconds.append(monotonicSeconds() - t0)
            t0 = monotonicSeconds()
            _ = try SnapshotAnalysis(checkpoint: RouterCheckpoint(path: checkpointPath), probe: Probe(path: probePath),
                                     previous: previous, workers: report.threads)
            report.analysisSeconds.append(monotonicSeconds() - t0)
        }
    }

    /// `--sizes` as (columns, rows) pairs.
    func parsedSizes() throws -> [(Int, Int)] {
        let pairs = sizes.split(separator: ",").map { part -> (Int, Int)? in
            let numbers = part.lowercased().split(separator: "x").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard numbers.count == 2, (1...1000).contains(numbers[0]), (1...1000).contains(numbers[1]) else { return nil }
            return (numbers[0], numbers[1])
        }
        guard !pairs.isEmpty, pairs.allSatisfy({ $0 != nil }) else {
            throw ValidationError("--sizes must look like 80x24,200x60")
        }
        return pairs.compactMap { $0 }
    }
}
