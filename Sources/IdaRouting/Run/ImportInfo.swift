import IdaFormats

/// run.json's `imported`: routing decisions another program recorded, converted by `python -m
/// idamoe_torch import` (a Megatron-Core router trace, SGLang's expert-distribution dumps, vLLM's
/// routed experts): which program wrote them, which of its records, and from where.
public struct ImportInfo: Sendable, Equatable, Codable {
    /// The program that recorded the decisions: `Megatron-Core`, `SGLang`, `vLLM`.
    public var producer: String?
    /// Which of its records: `router trace`, `tokens per expert`, `expert distribution (per_token)`, `routed experts`.
    public var records: String?
    /// Where they were read, absolute.
    public var source: String?
    /// The producer's version when the records say it.
    public var version: String?
    /// The ranks whose records were read.
    public var ranks: Int?
    /// How the probe's tokens are known: `token ids`, `decoded with TOKENIZER`, `not recorded`.
    public var tokens: String?
    /// What the import noted (records skipped, assumptions about the parallel layout).
    public var notes: [String]?

    /// An import record.
    public init(producer: String? = nil, records: String? = nil, source: String? = nil, version: String? = nil,
                ranks: Int? = nil, tokens: String? = nil, notes: [String]? = nil) {
        self.producer = producer
        self.records = records
        self.source = source
        self.version = version
        self.ranks = ranks
        self.tokens = tokens
        self.notes = notes
    }

    /// "Megatron-Core router trace, imported", for titles and headers.
    public var summary: String {
        [producer ?? "another program's", records ?? "records"].joined(separator: " ") + ", imported"
    }

    /// The JSON Schema of the record.
    static var schema: JSONValue {
        let string: JSONValue = .object(["type": .string("string")])
        return .object([
            "type": .string("object"), "additionalProperties": .bool(false),
            "description": .string("routing decisions another program recorded, converted by python -m idamoe_torch import"),
            "properties": .object([
                "producer": string, "records": string, "source": string, "version": string, "tokens": string,
                "ranks": .object(["type": .string("integer"), "minimum": .int(1)]),
                "notes": .object(["type": .string("array"), "items": string]),
            ]),
        ])
    }
}
