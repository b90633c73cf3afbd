import Foundation
import IdaInspector
import IdaRouting
import IdaSystem
import IdaTerminal

extension BenchRenderReport {
    /// What one `idamoe bench render` measures.
    public struct Settings {
        /// Probe tokens N.
        public var tokens: Int
        /// Training steps in the synthetic event log.
        public var steps: Int
        /// Steps between snapshots.
        public var snapshotEvery: Int
        /// Timed frames per screen (and presses per key) at each size.
        public var frames: Int
        /// Frame sizes (columns, rows); the last one opens the run and idles.
        public var sizes: [(Int, Int)]
        /// Length of the idle measurement (s; 0 skips it).
        public var idleSeconds: Double
        /// Repetitions of the snapshot analysis.
        public var analyses: Int
        /// Routing workers.
        public var threads: Int
        /// Colours and glyphs to render for.
        public var mode: DisplayMode
        /// How `mode` is named in the report ("256 colours, unicode").
        public var modeText: String

        /// Settings of one measurement.
        public init(tokens: Int, steps: Int, snapshotEvery: Int, frames: Int, sizes: [(Int, Int)], idleSeconds: Double,
                    analyses: Int, threads: Int, mode: DisplayMode, modeText: String) {
            self.tokens = tokens
            self.steps = steps
            self.snapshotEvery = snapshotEvery
            self.frames = frames
            self.sizes = sizes
            self.idleSeconds = idleSeconds
            self.analyses = analyses
            self.threads = threads
            self.mode = mode
            self.modeText = modeText
        }
    }

    /// Writes the synthetic live run to a temporary directory (deleted afterwards), opens it as
    /// `idamoe inspect RUN --headless` does, and times the analysis, every screen and key at each
    /// size, and the idle loop.
    public static func measure(_ settings: Settings) throws -> BenchRenderReport {
        let root = NSTemporaryDirectory() + "idamoe-bench-render-\(getpid())"
        try? FileManager.default.removeItem(atPath: root)
        defer { try? FileManager.default.removeItem(atPath: root) }
        var t0 = monotonicSeconds()
        let fixture = try BenchRenderFixture.write(in: root + "/run", tokens: settings.tokens, steps: settings.steps,
                                                   snapshotEvery: settings.snapshotEvery)
        var report = BenchRenderReport(fixture: fixture, threads: settings.threads, modeText: settings.modeText)
        report.fixtureSeconds = monotonicSeconds() - t0
        report.fixturePeakMiB = ResourceUsage.peakResidentMiB()

        // Opening the run as `idamoe inspect RUN --headless` does: every event, the newest snapshot analysed, a frame.
        let largest = settings.sizes.last ?? (200, 60)
        t0 = monotonicSeconds()
        let app = InspectorApp(source: .run(fixture.directory), probe: nil, workers: settings.threads)
        _ = app.headlessFrame(width: largest.0, height: largest.1, keys: [], mode: settings.mode)
        report.openSeconds = monotonicSeconds() - t0
        report.openPeakMiB = ResourceUsage.peakResidentMiB()
        guard app.state.analysis != nil else {
            throw BenchRenderError("the inspector did not analyse the synthetic snapshot: \(app.state.message ?? "no message")")
        }
        try report.measureAnalysis(previous: app.state.analysis, repetitions: settings.analyses)

        let timer = BenchRenderFrames(base: app.state, mode: settings.mode, frames: settings.frames)
        for (width, height) in settings.sizes {
            for (name, screen, help) in BenchRenderFrames.screens {
                report.screens.append(timer.screen(name, screen, help: help, width: width, height: height))
            }
        }
        for (width, height) in settings.sizes {
            for (name, screen, keys) in BenchRenderFrames.keys {
                report.keys.append(timer.key(name, screen, keys: keys, width: width, height: height))
            }
        }
        if settings.idleSeconds > 0 {
            report.idleSize = (largest.0, largest.1)
            report.idle = try BenchRenderIdle.measure(directory: fixture.directory, seconds: settings.idleSeconds,
                                                      width: largest.0, height: largest.1, mode: settings.mode,
                                                      workers: settings.threads)
        }
        report.peakMiB = ResourceUsage.peakResidentMiB()
        return report
    }

    /// Times `SnapshotAnalysis` of the newest snapshot (files opened, every layer routed, latents
    /// projected) and, on its own, the routing inside it, `repetitions` times each.
    public mutating func measureAnalysis(previous: SnapshotAnalysis?, repetitions: Int) throws {
        guard let step = fixture.snapshots.last else { return }
        let checkpointPath = RunLayout(fixture.directory).snapshot(step: step)
        let probePath = RunLayout(fixture.directory).probe(step: step)
        for _ in 0..<repetitions {
            var t0 = monotonicSeconds()
            let checkpoint = try RouterCheckpoint(path: checkpointPath)
            let probe = try Probe(path: probePath)
            let routing = try ProbeRouting(checkpoint: checkpoint, probe: probe, blockSize: 4096)
            try routing.run(workers: threads, keepLatents: true, reconstruct: true,
                            transform: { _, _ in () }, consume: { _ in })
            routingSeconds.append(monotonicSeconds() - t0)
            t0 = monotonicSeconds()
            _ = try SnapshotAnalysis(checkpoint: RouterCheckpoint(path: checkpointPath), probe: Probe(path: probePath),
                                     previous: previous, workers: threads)
            analysisSeconds.append(monotonicSeconds() - t0)
        }
    }
}
