import ArgumentParser
import Foundation
import IdaBLAS
import IdaAnalysis
import IdaRouting

/// `idamoe diff A B`: how two checkpoints route the same probe tokens, layer by layer.
struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare how two checkpoints route the same probe tokens.",
        discussion: """
            A and B are checkpoints, run directories (their newest snapshot) or RUN@STEP (that step's \
            snapshot). By default each side routes its own snapshot probe (the hidden states its model \
            produced at that step), and both probes must hold the same tokens (runs on one corpus do, whatever \
            their seeds). --text FILE runs that text through each side's own model instead; --probe P streams \
            one probe's hidden states through both sides' routers (how B's routers would route them, not how \
            model B routes the text). The header and JSON name which of these was compared. Per MoE layer: top-1 agreement \
            and top-k Jaccard, raw and after matching experts by co-assignment (Hungarian), load, CV, \
            entropy and its per-token change, component priors, mean shifts and dead components (IDA), and \
            the experts each probe domain goes to. --json prints one object (docs/format.md).
            """)

    @Argument(help: "Side A: checkpoint, run directory or RUN@STEP.")
    var a: String

    @Argument(help: "Side B: checkpoint, run directory or RUN@STEP.")
    var b: String

    @Option(help: "Probe to stream through both sides' routers instead of each side's snapshot probe (one set of hidden states for both).")
    var probe: String?

    @Option(help: "Text file (up to 256 KiB, one token per byte) to run through each side's own model, compared on its tokens.")
    var text: String?

    @Option(help: "Compare only this MoE layer (transformer block index).")
    var layer: Int?

    @Option(name: .customLong("top-k"), help: "Experts per token on both sides (default: each checkpoint's).")
    var topK: Int?

    @Flag(help: "One JSON object instead of the tables.")
    var json = false

    @Option(help: "Expert parallelism over G ranks (expert e on rank floor(e G / E)): each layer's rank MaxVio and hottest rank on both sides.")
    var ep: Int?

    @OptionGroup var threads: ThreadsOption

    func validate() throws {
        if let ep, ep < 1 { throw ValidationError("--ep must be at least 1 rank") }
        if probe != nil && text != nil {
            throw ValidationError("--probe and --text answer different questions; give one (see idamoe diff --help)")
        }
    }

    func run() throws {
        let workers = try threads.workers()
        let refA = try CheckpointReference.resolve(a)
        let refB = try CheckpointReference.resolve(b)
        let comparison: CheckpointComparison
        if let text {
            let probes = try TextComparison.probes(try TextComparison.read(text), a: refA, b: refB)
            comparison = try CheckpointComparison(a: refA, b: refB, probes: probes, layer: layer, topK: topK, workers: workers)
        } else {
            comparison = try CheckpointComparison(a: refA, b: refB, probe: probe, layer: layer, topK: topK, workers: workers)
        }
        if json {
            try StandardOutput.json(Self.json(comparison, ranks: ep).serialized())
        } else {
            try StandardOutput.text(Self.text(comparison, ranks: ep))
        }
    }
}
