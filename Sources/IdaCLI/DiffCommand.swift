import ArgumentParser
import Foundation
import IdaBLAS
import IdaAnalysis
import IdaNumerics
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
            the experts each probe domain goes to; MaxVio of the top-k, first-choice and gate-weighted loads, \
            load quantiles, and the quantiles of CV and MaxVio across layers. --ep G or --placement FILE adds \
            each side's load per expert-parallel rank (--redundant R: after replicating the hottest experts). \
            --json prints one object (docs/format.md).
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

    @Option(help: ArgumentHelp("Expert parallelism by a physical-to-logical map (docs/format.md, \"The expert-parallel view\"), on both sides; its ranks, else --ep G.",
                               valueName: "FILE"))
    var placement: String?

    @Option(help: "With --ep or --placement: the what-if of R extra slots replicating each side's hottest experts, as EPLB does, and the rank MaxVio after.")
    var redundant: Int?

    @OptionGroup var threads: ThreadsOption

    func validate() throws {
        if let ep, ep < 1 { throw ValidationError("--ep must be at least 1 rank") }
        if let redundant, redundant < 0 || redundant > ExpertPlacement.maxSlots {
            throw ValidationError("--redundant must be 0 to \(ExpertPlacement.maxSlots) slots")
        }
        if redundant != nil && ep == nil && placement == nil { throw ValidationError("--redundant needs --ep G or --placement FILE") }
        if probe != nil && text != nil {
            throw ValidationError("--probe and --text answer different questions; give one (see idamoe diff --help)")
        }
    }

    func run() throws {
        let workers = try threads.workers()
        // A bad placement file is refused before any token is routed.
        let file = try placement.map { try PlacementFile(path: $0) }
        if let file, file.ranks == nil, ep == nil { throw ValidationError("--placement \(file.path): the file names no ranks; give --ep G") }
        let refA = try CheckpointReference.resolve(a)
        let refB = try CheckpointReference.resolve(b)
        let comparison: CheckpointComparison
        if let text {
            let probes = try TextComparison.probes(try TextComparison.read(text), a: refA, b: refB)
            comparison = try CheckpointComparison(a: refA, b: refB, probes: probes, layer: layer, topK: topK, workers: workers)
        } else {
            comparison = try CheckpointComparison(a: refA, b: refB, probe: probe, layer: layer, topK: topK, workers: workers)
        }
        let views = try (ep != nil || file != nil)
            ? DiffRankViews(comparison, request: ExpertParallelRequest(ranks: ep, placement: file, redundant: redundant)) : nil
        if json {
            try StandardOutput.json(Self.json(comparison, views: views).serialized())
        } else {
            try StandardOutput.text(Self.text(comparison, views: views))
        }
    }
}
