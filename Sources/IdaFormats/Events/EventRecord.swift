/// One line of a run directory's `events.jsonl`: a JSON object with at least
/// "v" (int), "step" (int), "time" (number) and "kind" (string).
public struct EventRecord: Sendable {
    /// The record format version ("v").
    public let version: Int
    /// The training step the event belongs to ("step").
    public let step: Int
    /// Seconds, as written by the producer ("time").
    public let time: Double
    /// What happened, e.g. "train" or "eval" ("kind").
    public let kind: String
    /// The whole object, required fields included; unknown fields are kept here.
    public let fields: [String: JSONValue]

    /// The record for `json`, or nil if it is not an object with the required, well-typed fields.
    public init?(json: JSONValue) {
        guard case .object(let fields) = json,
              let version = fields["v"]?.int,
              let step = fields["step"]?.int,
              let time = fields["time"]?.double,
              let kind = fields["kind"]?.string else { return nil }
        self.version = version
        self.step = step
        self.time = time
        self.kind = kind
        self.fields = fields
    }
}
