import IdaBench
import ArgumentParser
import Foundation
import IdaBLAS
import IdaInspector
import IdaRouting
import IdaTerminal
import IdaSystem

/// `idamoe bench scale`: the inspector and `idamoe route` on a large synthetic case (from `bench synth`).
struct BenchScaleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale",
        abstract: "Time to first frame, key latency, resident memory and route throughput on DIR/checkpoint.safetensors and DIR/probe.safetensors (write them with `idamoe bench synth DIR`).")

    @Argument(help: "Directory holding checkpoint.safetensors and probe.safetensors.")
    var directory: String

    @Option(help: "What to measure: inspect (analysis, frames, keys) or route (the table path of `idamoe route`); one per run, so each peak memory is its own.")
    var part = "inspect"

    @OptionGroup var threads: ThreadsOption

    @Option(help: "Terminal size for the frames, WxH.")
    var size = "160x50"

    @Option(help: "Presses of each key measured.")
    var presses = 20

    @Option(help: "Inspect: show the Overview's expert-parallel view over G ranks (as `idamoe inspect --ep G`) in every frame.")
    var ep: Int?

    func run() throws {
        let workers = try threads.workers()
        let parts = size.split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts[0] > 0, parts[1] > 0, presses > 0 else {
            throw ValidationError("--size must look like 160x50 and --presses be positive")
        }
        if let ep, ep < 1 { throw ValidationError("--ep must be at least 1 rank") }
        let checkpoint = directory + "/checkpoint.safetensors", probePath = directory + "/probe.safetensors"
        guard FileManager.default.fileExists(atPath: checkpoint), FileManager.default.fileExists(atPath: probePath) else {
            throw ValidationError("\(directory) has no checkpoint.safetensors and probe.safetensors; write them with `idamoe bench synth \(directory)`")
        }
        try StandardOutput.line("system: \(BLASSystem.current().summary)")
        switch part {
        case "inspect": try inspect(checkpoint, probePath, workers: workers, width: parts[0], height: parts[1])
        case "route": try route(checkpoint, probePath, workers: workers)
        default: throw ValidationError("--part must be inspect or route, not \(part)")
        }
    }

    /// The analysis layer-first as the interactive inspector runs it, the first frame as soon as the
    /// shown layer is in, then every screen and the scale keys on the whole analysis.
    func inspect(_ checkpointPath: String, _ probePath: String, workers: Int, width: Int, height: Int) throws {
        let t0 = monotonicSeconds()
        let ck = try RouterCheckpoint(path: checkpointPath), probe = try Probe(path: probePath)
        var state = InspectorState(title: checkpointPath, live: false, expertParallel: ExpertParallelPlan(ranks: ep))
        state.width = width
        state.height = height
        state.tokens = probe.tokenIDs()
        state.domains = probe.domainIDs()
        state.domainNames = probe.domainNames
        var firstFrame: Double?
        let analysis = try SnapshotAnalysis(checkpoint: ck, probe: probe, workers: workers, first: ck.info.moeLayers.first,
                                            progress: { partial in
            guard firstFrame == nil else { return }
            var shown = state
            shown.analysis = partial
            _ = Self.render(shown)
            firstFrame = monotonicSeconds() - t0
        })
        let all = monotonicSeconds() - t0
        state.analysis = analysis
        let info = ck.info
        try StandardOutput.line("bench scale inspect: \(info.moeLayers.count) layers x \(info.config.experts) experts x "
              + "\(info.config.componentsPerExpert) components, P \(info.config.latentDim), N \(probe.count), "
              + "\(workers) threads, \(width)x\(height)" + (ep.map { ", --ep \($0)" } ?? ""))
        try StandardOutput.line(String(format: "first frame (files opened, shown layer analysed, drawn) %8.2f s", firstFrame ?? all))
        try StandardOutput.line(String(format: "every layer analysed                                 %8.2f s", all))
        try StandardOutput.line(String(format: "resident memory after the analysis %.0f MiB, peak %.0f MiB", residentMiB(), peakResidentMiB()))
        for screen in [Screen.overview, .layer, .latent, .tokens] {
            var s = state
            s.screen = screen
            let times = (0..<5).map { _ in Self.time { _ = Self.render(s) } }
            try StandardOutput.line("render " + screen.title.padding(toLength: 9, withPad: " ", startingAt: 0)
                  + String(format: "%7.1f ms (median of 5)", Self.median(times)))
        }
        let keys: [(String, Screen, [Key])] = [
            ("overview: next layer row (j)", .overview, [.character("j")]), ("overview: page (PgDn)", .overview, [.pageDown]),
            ("overview: next expert (.)", .overview, [.character(".")]), ("layer: next expert (j)", .layer, [.character("j")]),
            ("layer: page (PgDn)", .layer, [.pageDown]), ("layer: order (o)", .layer, [.character("o")]),
            ("layer: next layer (])", .layer, [.character("]")]), ("latent: next expert (.)", .latent, [.character(".")]),
            ("jump: / e 9 9 Enter", .layer, [.character("/"), .character("e"), .character("9"), .character("9"), .enter]),
        ]
        try StandardOutput.line("key (update + render)                 median ms   max ms")
        for (name, screen, sequence) in keys {
            var s = state
            s.screen = screen
            var times: [Double] = []
            for _ in 0..<presses {
                times.append(Self.time {
                    // As the runtime applies a key: the views' geometry first, so a page key pages a screenful.
                    for key in sequence { _ = InspectorApp.update(&s, with: .key(key)) }
                    _ = Self.render(s)
                })
            }
            try StandardOutput.line(name.padding(toLength: 37, withPad: " ", startingAt: 0)
                  + String(format: "%9.1f %8.1f", Self.median(times), times.max() ?? 0))
        }
    }

    /// `idamoe route`'s table path: every token through every layer, the metrics folded.
    func route(_ checkpointPath: String, _ probePath: String, workers: Int) throws {
        let ck = try RouterCheckpoint(path: checkpointPath), probe = try Probe(path: probePath)
        let routing = try ProbeRouting(checkpoint: ck, probe: probe)
        BLAS.gemmSeconds = 0
        BLAS.profiling = true
        let cpu0 = Self.processCPUSeconds()
        let t0 = monotonicSeconds()
        try routing.run(workers: workers, detail: .decisions, transform: { _, _ in () }, consume: { _ in })
        let seconds = monotonicSeconds() - t0
        let cpu = Self.processCPUSeconds() - cpu0
        BLAS.profiling = false
        let layers = routing.layers.count
        try StandardOutput.line("bench scale route: \(layers) layers, N \(probe.count), \(workers) threads, block \(routing.blockSize)")
        try StandardOutput.line(String(format: "%.2f s: %.0f tokens/s through all layers, %.0f token-layers/s; peak %.0f MiB",
                     seconds, Double(probe.count) / seconds, Double(probe.count * layers) / seconds, peakResidentMiB()))
        // The measure of the scale work: the routing's CPU time against the time its threads spent inside GEMM
        // calls, and against the GEMMs' compute bound (their FLOPs at one core's peak rates).
        let inside = BLAS.gemmSeconds
        var floatFLOPs = 0.0, doubleFLOPs = 0.0
        let tile = ProbeRouting.tileRows
        let tokens = Double((probe.count + tile - 1) / tile * tile)  // the last tile is padded
        for i in routing.layers {
            guard case let .ida(r)? = ck.routers[i] else { continue }
            floatFLOPs += tokens * r.encoder.layers.reduce(0) { $0 + 2 * Double($1.inputs * $1.outputs) }
            doubleFLOPs += tokens * 2 * Double((2 * r.config.latentDim + 1) * r.config.components)
        }
        let sPeak = measureSgemmPeak(threads: 1), dPeak = measureDgemmPeak()
        let bound = floatFLOPs / (sPeak * 1e9) + doubleFLOPs / (dPeak * 1e9)
        try StandardOutput.line(String(format: "CPU %.2f s, inside GEMM calls %.2f s: %.2fx the GEMMs' time", cpu, inside, cpu / max(inside, 1e-9)))
        try StandardOutput.line(String(format: "GEMM compute bound %.2f s (%.1f GFLOP float at %.1f GFLOP/s, %.1f GFLOP double at %.1f GFLOP/s, "
                     + "one core's 1024^3 peaks): %.2fx the bound", bound, floatFLOPs / 1e9, sPeak, doubleFLOPs / 1e9, dPeak,
                     cpu / max(bound, 1e-9)))
    }

    /// User plus system CPU time of this process so far (every thread), seconds.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return .nan }
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    static func render(_ state: InspectorState) -> ScreenBuffer {
        var buffer = ScreenBuffer(width: state.width, height: state.height)
        InspectorView.render(state, mode: .full, into: &buffer)
        return buffer
    }

    static func time(_ body: () -> Void) -> Double {
        let t0 = monotonicSeconds()
        body()
        return 1000 * (monotonicSeconds() - t0)
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    /// Resident memory of this process now, MiB (/proc/self/statm, pages).
    func residentMiB() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return .nan }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Double(fields[1]) else { return .nan }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / (1024 * 1024)
    }
}
