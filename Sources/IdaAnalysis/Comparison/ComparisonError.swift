import IdaRouting
/// Problems met while resolving, routing or comparing two checkpoints; one line each, naming the files,
/// layers or steps involved and, where it helps, what to do.
public enum ComparisonError: Error, Equatable, CustomStringConvertible {
    /// An assignment matrix whose element count is not rows x cols.
    case raggedMatrix(rows: Int, cols: Int, count: Int)
    /// An assignment weight that is NaN or infinite.
    case nonFiniteWeight(row: Int, col: Int)
    /// `--text` with a side whose checkpoint holds routers only and whose own probe is not that text.
    case textNeedsModel(side: String, checkpoint: String, probeTokens: Int?, textTokens: Int)
    /// A checkpoint with no snapshot probe next to it and no probe given.
    case noProbe(checkpoint: String)
    /// The two snapshot probes do not hold the same tokens, so the routings cannot be paired token by token.
    case differentTokens(probeA: String, probeB: String, countA: Int, countB: Int, firstDifference: Int?)
    /// The two checkpoints share no MoE layer.
    case noCommonLayer(layersA: [Int], layersB: [Int])
    /// A requested layer is not a MoE layer of both checkpoints.
    case unknownLayer(layer: Int, layersA: [Int], layersB: [Int])
    /// Routing the probe through one side failed (for example a probe of another hidden width).
    case routing(side: String, problem: String)
    /// Two summaries that cannot be compared (different token counts or layers).
    case summaryMismatch(layer: Int, problem: String)

    /// One line for the user.
    public var description: String {
        switch self {
        case let .raggedMatrix(rows, cols, count):
            return "assignment matrix of \(rows) x \(cols) holds \(count) values"
        case let .nonFiniteWeight(row, col):
            return "assignment weight at row \(row), column \(col) is not finite"
        case let .textNeedsModel(side, checkpoint, probeTokens, textTokens):
            let probe = probeTokens.map { "its own probe holds other tokens (\($0) against the text's \(textTokens) bytes)" }
                ?? "it has no probe of its own"
            return "\(side) \(checkpoint) holds routers only, so its model cannot run the text, and \(probe); make a probe of "
                + "this text with its producer (python -m idamoe_torch capture --text FILE for a Hugging Face model, a RunWriter's "
                + "probe for a PyTorch run) and compare that run"
        case let .noProbe(checkpoint):
            return "\(checkpoint): no snapshot probe next to it (step-XXXXXXXX.probe.safetensors); name one with --probe"
        case let .differentTokens(probeA, probeB, countA, countB, first):
            let detail = countA != countB ? "\(countA) vs \(countB) tokens" : "token \(first ?? 0) differs"
            return "the snapshot probes \(probeA) and \(probeB) hold different tokens (\(detail): runs written before "
                + "the probe belonged to the corpus drew it with their seed, runs of other context lengths or corpora hold other text, "
                + "and imports of recorded decisions hold each step's own tokens); "
                + "compare on one text through each model with --text FILE, or stream one probe's hidden states through "
                + "both routers with --probe"
        case let .noCommonLayer(layersA, layersB):
            return "A and B share no MoE layer (A: \(layersA), B: \(layersB))"
        case let .unknownLayer(layer, layersA, layersB):
            return "layer \(layer) is not a MoE layer of both checkpoints (A: \(layersA), B: \(layersB))"
        case let .routing(side, problem):
            return "\(side): \(problem)"
        case let .summaryMismatch(layer, problem):
            return "layer \(layer): cannot compare the two routings: \(problem)"
        }
    }
}
