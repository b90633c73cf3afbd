import ArgumentParser
import Foundation
import IdaBLAS
import IdaBench
import IdaInspector

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
        let run = try ScaleBench.Inspection(checkpoint: checkpointPath, probe: probePath, workers: workers, width: width,
                                            height: height, ep: ep)
        let info = run.checkpoint.info
        try StandardOutput.line("bench scale inspect: \(info.moeLayers.count) layers x \(info.config.experts) experts x "
              + "\(info.config.componentsPerExpert) components, P \(info.config.latentDim), N \(run.tokens), "
              + "\(workers) threads, \(width)x\(height)" + (ep.map { ", --ep \($0)" } ?? ""))
        try StandardOutput.line(String(format: "first frame (files opened, shown layer analysed, drawn) %8.2f s", run.firstFrameSeconds))
        try StandardOutput.line(String(format: "every layer analysed                                 %8.2f s", run.analysisSeconds))
        try StandardOutput.line(String(format: "resident memory after the analysis %.0f MiB, peak %.0f MiB", run.residentMiB, run.peakMiB))
        for screen in ScaleBench.screens {
            let times = run.renderMilliseconds(screen, repeats: 5)
            try StandardOutput.line("render " + screen.title.padding(toLength: 9, withPad: " ", startingAt: 0)
                  + String(format: "%7.1f ms (median of 5)", Statistics.median(times)))
        }
        try StandardOutput.line("key (update + render)                 median ms   max ms")
        for (name, screen, sequence) in ScaleBench.keys {
            let times = run.keyMilliseconds(sequence, on: screen, presses: presses)
            try StandardOutput.line(name.padding(toLength: 37, withPad: " ", startingAt: 0)
                  + String(format: "%9.1f %8.1f", Statistics.median(times), times.max() ?? 0))
        }
    }

    /// `idamoe route`'s table path: every token through every layer, the metrics folded.
    func route(_ checkpointPath: String, _ probePath: String, workers: Int) throws {
        let r = try ScaleBench.Routing(checkpoint: checkpointPath, probe: probePath, workers: workers)
        try StandardOutput.line("bench scale route: \(r.layers) layers, N \(r.tokens), \(workers) threads, block \(r.blockSize)")
        try StandardOutput.line(String(format: "%.2f s: %.0f tokens/s through all layers, %.0f token-layers/s; peak %.0f MiB",
                     r.seconds, Double(r.tokens) / r.seconds, Double(r.tokens * r.layers) / r.seconds, r.peakMiB))
        // The measure of the scale work: the routing's CPU time against the time its threads spent inside GEMM
        // calls, and against the GEMMs' compute bound (their FLOPs at one core's peak rates).
        let cpu = r.cpuSeconds, inside = r.gemmSeconds
        let bound = r.computeBound()
        try StandardOutput.line(String(format: "CPU %.2f s, inside GEMM calls %.2f s: %.2fx the GEMMs' time", cpu, inside, cpu / max(inside, 1e-9)))
        try StandardOutput.line(String(format: "GEMM compute bound %.2f s (%.1f GFLOP float at %.1f GFLOP/s, %.1f GFLOP double at %.1f GFLOP/s, "
                     + "one core's 1024^3 peaks): %.2fx the bound", bound.seconds, r.floatFLOPs / 1e9, bound.sgemmPeak,
                     r.doubleFLOPs / 1e9, bound.dgemmPeak, cpu / max(bound.seconds, 1e-9)))
    }
}
