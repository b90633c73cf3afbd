import Foundation
import IdaRouting

/// What a comparison puts side by side, the question it answers (docs/format.md, "idamoe diff"):
/// named in `idamoe diff`'s header and JSON and in the inspector's comparison.
public enum ComparisonBasis: String, Sendable, Equatable {
    /// Each side streams its own snapshot probe (the router inputs its model produced), and the probes
    /// hold the same tokens: the same text through each model.
    case ownProbes = "own-probes"
    /// A text file run through each side's own model (`--text`): the same text through each model.
    case text
    /// One probe's hidden states streamed through both sides' routers (`--probe`, or a side with no
    /// probe of its own): how B's routers would route A's (or the probe's) representations, not how
    /// model B routes this text.
    case sharedHidden = "shared-probe"

    /// One line for headers.
    public var summary: String {
        switch self {
        case .ownProbes: return "the same tokens through each model (each side's own snapshot probe)"
        case .text: return "the same text through each model (each side's own model makes its router inputs)"
        case .sharedHidden: return "one probe's hidden states through both sides' routers (not how B's model routes this text)"
        }
    }
}

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
    /// The question the comparison answers.
    public let basis: ComparisonBasis

    /// Two probes made from one text by each side's own model (`--text`); they must hold the same tokens.
    public init(textA: Probe, textB: Probe) throws {
        try Self.requireSameTokens(textA, textB)
        self.init(a: textA, b: textB, shared: false, basis: .text)
    }

    init(a: Probe, b: Probe, shared: Bool, basis: ComparisonBasis) {
        self.a = a
        self.b = b
        self.shared = shared
        self.basis = basis
    }

    /// `override` (`--probe`) for both sides when given; otherwise A's own probe (`probeA`, required)
    /// and B's own (`probeB`), B falling back to A's when it has none (a plain checkpoint file). Two
    /// different files must hold the same tokens in the same order.
    public static func resolve(override: String?, checkpointA: String, probeA: String?, probeB: String?) throws
        -> ComparisonProbes {
        if let override {
            let probe = try Probe(path: override)
            return ComparisonProbes(a: probe, b: probe, shared: true, basis: .sharedHidden)
        }
        guard let pathA = probeA else { throw ComparisonError.noProbe(checkpoint: checkpointA) }
        let pathB = probeB ?? pathA
        let a = try Probe(path: pathA)
        if CheckpointReference.canonical(pathA) == CheckpointReference.canonical(pathB) {
            // B's own probe may be this very file (a snapshot against itself); a B without one streams A's.
            return ComparisonProbes(a: a, b: a, shared: true, basis: probeB == nil ? .sharedHidden : .ownProbes)
        }
        let b = try Probe(path: pathB)
        try requireSameTokens(a, b)
        return ComparisonProbes(a: a, b: b, shared: false, basis: .ownProbes)
    }

    /// Refuses two probes that do not hold the same tokens in the same order.
    static func requireSameTokens(_ a: Probe, _ b: Probe) throws {
        guard a.tokens.elementsEqual(b.tokens) else {
            let first = zip(a.tokens, b.tokens).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            throw ComparisonError.differentTokens(probeA: a.file.path, probeB: b.file.path, countA: a.count, countB: b.count,
                                                  firstDifference: first)
        }
    }
}
