import IdaFormats

/// run.json's `capture`: a Hugging Face model's routers captured on a text (`python -m idamoe_torch
/// capture`), where the model came from and what was checked.
public struct CaptureInfo: Sendable, Equatable, Codable {
    /// The model directory, absolute.
    public var modelDir: String?
    /// The model's architecture class.
    public var architecture: String?
    /// The gate module of each block, by block index.
    public var gates: [String: String]?
    /// What the capture noted about the gates (for example, a rule it could not check).
    public var notes: [String]?
    /// How the text became tokens: `tokenizer` or `bytes, no tokenizer`.
    public var tokens: String?
    /// Tokens per forward window.
    public var window: Int?
    /// True when the capture was written without being checked against the model's own routing on
    /// every token (`capture --unverified`); readers say so wherever the capture is shown.
    public var unverified: Bool?

    /// A capture record.
    public init(modelDir: String? = nil, architecture: String? = nil, gates: [String: String]? = nil, notes: [String]? = nil,
                tokens: String? = nil, window: Int? = nil, unverified: Bool? = nil) {
        self.modelDir = modelDir
        self.architecture = architecture
        self.gates = gates
        self.notes = notes
        self.tokens = tokens
        self.window = window
        self.unverified = unverified
    }

    /// "capture of MixtralForCausalLM" (or "UNVERIFIED capture of ..."), for titles and headers.
    public var summary: String {
        (unverified == true ? "UNVERIFIED capture of " : "capture of ") + (architecture ?? "a model")
    }

    /// The JSON Schema of the record.
    static var schema: JSONValue {
        let string: JSONValue = .object(["type": .string("string")])
        return .object([
            "type": .string("object"), "additionalProperties": .bool(false),
            "description": .string("a Hugging Face model's routers captured on a text (python -m idamoe_torch capture)"),
            "properties": .object([
                "modelDir": string, "architecture": string, "tokens": string,
                "gates": .object(["type": .string("object"), "additionalProperties": string]),
                "notes": .object(["type": .string("array"), "items": string]),
                "window": .object(["type": .string("integer"), "minimum": .int(1)]),
                "unverified": .object(["type": .string("boolean"),
                                       "description": .string("written without checking the routing against the model's own")]),
            ]),
        ])
    }
}
