/// One line of a JSON-lines log as a generic JSON object with at least "v" (int), "step" (int), "time"
/// (number) and "kind" (string): for tools and tests that look at lines as they are written. A run's
/// events are read as typed records (`RunEvent`, IdaRouting).
public struct EventRecord: JSONLine {
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

    /// The record of a line's bytes, or nil when it is not a JSON object with the required fields.
    public static func decode(line: UnsafeRawBufferPointer) -> EventRecord? {
        (try? JSONValue.parse(bytes: line)).flatMap(EventRecord.init(json:))
    }

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
