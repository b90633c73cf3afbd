import IdaFormats
import IdaRouting

/// What the screens show of a probe besides its routing: token ids, their domains, how ids read
/// and the domain names (escaped by `UntrustedText`: they come from the probe's metadata).
public struct ProbeText: Sendable {
    /// Token ids [N].
    public var tokens: [Int32]
    /// Domain of each token [N], when the probe has them.
    public var domains: [Int32]?
    /// How token ids read as text (views escape each token's text when they draw it).
    public var vocabulary: Vocabulary
    /// Domain names by id, escaped.
    public var domainNames: [String]

    /// Byte tokens with no domains (a text, `--text`).
    public init(tokens: [Int32]) {
        self.tokens = tokens
        domains = nil
        vocabulary = .bytes
        domainNames = []
    }

    /// The text side of `probe`.
    public init(_ probe: Probe) {
        tokens = probe.tokenIDs()
        domains = probe.domainIDs()
        vocabulary = probe.vocabulary
        domainNames = probe.domainNames.map(UntrustedText.sanitized)
    }
}
