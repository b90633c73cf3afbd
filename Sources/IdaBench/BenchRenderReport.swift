import Foundation
import IdaBLAS
import IdaFormats

/// What `idamoe bench render` measured, printed as a table or as JSON.
public struct BenchRenderReport {
    /// The run the figures are about.
    public var fixture: BenchRenderFixture
    /// Routing workers.
    public var threads: Int
    /// "256 colours, unicode" and the like.
    public var modeText: String
    /// Writing the run directory (s).
    public var fixtureSeconds = 0.0
    /// `InspectorApp` on the run, loaded synchronously as `--headless` does: events, analysis, first frame (s).
    public var openSeconds = 0.0
    /// `SnapshotAnalysis` of the newest snapshot, per repetition (s).
    public var analysisSeconds: [Double] = []
    /// Routing alone (ProbeRouting over every layer, latents and reconstruction kept), per repetition (s).
    public var routingSeconds: [Double] = []
    /// Screens at each size.
    public var screens: [BenchRenderFrames.Row] = []
    /// Key presses at each size.
    public var keys: [BenchRenderFrames.Row] = []
    /// The idle run loop, when measured.
    public var idle: BenchRenderIdle?
    /// Idle frame size.
    public var idleSize = (width: 0, height: 0)
    /// Peak resident memory (MiB): after writing the run, after opening it, at the end.
    public var fixturePeakMiB = 0.0, openPeakMiB = 0.0, peakMiB = 0.0

    /// A report on `fixture`, measured on `threads` workers in the display mode `modeText` describes.
    public init(fixture: BenchRenderFixture, threads: Int, modeText: String) {
        self.fixture = fixture
        self.threads = threads
        self.modeText = modeText
    }

    /// The human-readable table.
    public func table() -> String {
        var out: [String] = []
        let f = fixture
        out.append("system: \(BLASSystem.current().summary)")
        out.append("bench render: probe N \(f.tokens) (byte tokens, \(BenchRenderFixture.domainNames.count) domains), "
            + "\(f.config.moeLayers.count) MoE layers (D \(f.config.width), E \(f.config.experts), M \(f.config.componentsPerExpert), "
            + "P \(f.config.latentDim), k \(f.config.topK)), \(f.steps) steps logged (\(f.eventLines) event lines), "
            + "\(f.snapshots.count) snapshots; \(threads) threads; \(modeText)")
        out.append(String(format: "run directory written in %.2f s (probe with hidden states %.1f MB per snapshot)",
                          fixtureSeconds, Double(f.probeBytes) / 1e6))
        out.append(String(format: "open run (read events, analyse the newest snapshot, first frame): %.1f ms", 1000 * openSeconds))
        out.append(String(format: "analyse snapshot: %.1f ms (median of %d), of which routing %d tokens x %d layers %.1f ms",
                          1000 * Statistics.median(analysisSeconds), analysisSeconds.count, f.tokens, f.config.moeLayers.count,
                          1000 * Statistics.median(routingSeconds)))
        out.append("screen     size      render ms      p95   diff ms      p95   cells changed")
        for r in screens {
            out.append(pad(r.name, 9) + "  " + pad("\(r.width)x\(r.height)", 7) + String(format: "  %9.3f  %7.3f  %8.3f  %7.3f  %14.0f",
                       Statistics.median(r.milliseconds), Statistics.nearestRank(r.milliseconds, 0.95), Statistics.median(r.diffMilliseconds),
                       Statistics.nearestRank(r.diffMilliseconds, 0.95), Statistics.mean(r.changedCells)))
        }
        out.append("key (update + render + diff)   size          ms      p95   cells changed")
        for r in keys {
            out.append(pad(r.name, 29) + "  " + pad("\(r.width)x\(r.height)", 7) + String(format: "  %9.3f  %7.3f  %14.0f",
                       Statistics.median(r.milliseconds), Statistics.nearestRank(r.milliseconds, 0.95), Statistics.mean(r.changedCells)))
        }
        if let i = idle {
            out.append(String(format: "idle %.1f s at %dx%d, live run with no new events: CPU %.3f%% of one core (%.2f ms/s; loop thread %.2f ms/s), "
                + "%d frames drawn (%d cells), %d input waits; analysed frame on screen %.2f s after start (%d frames)",
                i.seconds, idleSize.width, idleSize.height, 100 * i.cpuSeconds / i.seconds, 1000 * i.cpuSeconds / i.seconds,
                1000 * i.loopCPUSeconds / i.seconds, i.frames, i.changedCells, i.waits, i.settleSeconds, i.settleFrames))
        }
        out.append(String(format: "peak resident memory %.1f MiB (%.1f after writing the run, %.1f after opening it)",
                          peakMiB, fixturePeakMiB, openPeakMiB))
        return out.joined(separator: "\n")
    }

    /// The same figures as one JSON object (milliseconds, medians and p95).
    public func json() -> String {
        func rows(_ list: [BenchRenderFrames.Row]) -> JSONValue {
            .array(list.map { r in
                .object(["name": .string(r.name), "width": .number(Double(r.width)), "height": .number(Double(r.height)),
                         "ms_median": .number(Statistics.median(r.milliseconds)), "ms_p95": .number(Statistics.nearestRank(r.milliseconds, 0.95)),
                         "diff_ms_median": .number(Statistics.median(r.diffMilliseconds)),
                         "diff_ms_p95": .number(Statistics.nearestRank(r.diffMilliseconds, 0.95)), "cells_changed": .number(Statistics.mean(r.changedCells))])
            })
        }
        var object: [String: JSONValue] = [
            "tokens": .number(Double(fixture.tokens)), "steps": .number(Double(fixture.steps)),
            "snapshots": .number(Double(fixture.snapshots.count)), "threads": .number(Double(threads)),
            "open_ms": .number(1000 * openSeconds), "analysis_ms": .number(1000 * Statistics.median(analysisSeconds)),
            "routing_ms": .number(1000 * Statistics.median(routingSeconds)), "screens": rows(screens), "keys": rows(keys),
            "peak_resident_mib": .number(peakMiB), "open_peak_resident_mib": .number(openPeakMiB),
            "fixture_peak_resident_mib": .number(fixturePeakMiB),
            "system": .string(BLASSystem.current().summary),
        ]
        if let i = idle {
            object["idle"] = .object([
                "seconds": .number(i.seconds), "cpu_ms_per_s": .number(1000 * i.cpuSeconds / i.seconds),
                "loop_cpu_ms_per_s": .number(1000 * i.loopCPUSeconds / i.seconds), "frames": .number(Double(i.frames)),
                "waits": .number(Double(i.waits)), "settle_s": .number(i.settleSeconds),
            ])
        }
        return JSONValue.object(object).serialized()
    }

    public func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0) }
}
