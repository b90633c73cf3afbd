import ArgumentParser
import Foundation
import IdaBench
import IdaTerminal

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
        let report = try BenchRenderReport.measure(.init(
            tokens: tokens, steps: steps, snapshotEvery: snapshotEvery, frames: frames, sizes: frameSizes, idleSeconds: idleSeconds,
            analyses: analyses, threads: cores, mode: mode,
            modeText: (noColor ? "monochrome" : "256 colours") + (ascii ? ", ascii" : ", unicode")))
        try StandardOutput.line(json ? report.json() : report.table())
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
