import Foundation

/// Which probe each side of a comparison streams, and the check that both hold the same tokens: the
/// one answer `idamoe diff` and the inspector's A | B view share (docs/decisions.md, "Comparing
/// checkpoints").
public struct ComparisonProbes: Sendable {
    /// The probe A streams.
    public let a: Probe
    /// The probe B streams (the same value as `a` when one file serves both).
    public let b: Probe
    /// Whether one probe file is streamed through both sides.
    public let shared: Bool

    /// `override` (`--probe`) for both sides when given; otherwise A's own probe (`probeA`, required)
    /// and B's own (`probeB`), B falling back to A's when it has none (a plain checkpoint file). Two
    /// different files must hold the same tokens in the same order.
    public static func resolve(override: String?, checkpointA: String, probeA: String?, probeB: String?) throws
        -> ComparisonProbes {
        if let override {
            let probe = try Probe(path: override)
            return ComparisonProbes(a: probe, b: probe, shared: true)
        }
        guard let pathA = probeA else { throw ComparisonError.noProbe(checkpoint: checkpointA) }
        let pathB = probeB ?? pathA
        let a = try Probe(path: pathA)
        if CheckpointReference.canonical(pathA) == CheckpointReference.canonical(pathB) {
            return ComparisonProbes(a: a, b: a, shared: true)
        }
        let b = try Probe(path: pathB)
        guard a.tokens.elementsEqual(b.tokens) else {
            let first = zip(a.tokens, b.tokens).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            throw ComparisonError.differentTokens(probeA: pathA, probeB: pathB, countA: a.count, countB: b.count,
                                                  firstDifference: first)
        }
        return ComparisonProbes(a: a, b: b, shared: false)
    }
}
