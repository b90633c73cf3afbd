import Foundation
import IdaFormats

/// One line of a run's events.jsonl (docs/format.md, "Events"; docs/schema/events.schema.json): what
/// every line holds (`v`, `step`, `time`, `kind`) and the record of its kind. The one definition every
/// writer (the trainer, the benchmarks' fabricated runs) and reader (the inspector, resume, tests)
/// uses; the Python `RunWriter` is held to the same schema by tests.
public struct RunEvent: Sendable, Equatable, Codable {
    /// The record of each kind.
    public enum Body: Sendable, Equatable {
        /// The run's first line.
        case start(StartEvent)
        /// One optimizer step.
        case step(StepEvent)
        /// A validation pass.
        case eval(EvalEvent)
        /// A mixture component died, was intervened on or revived.
        case reactivation(ReactivationEvent)
        /// A snapshot was published.
        case snapshot(SnapshotEvent)
        /// Training continued from a snapshot.
        case resume(ResumeEvent)
        /// Training reached its last step.
        case done
        /// A kind this version does not know (kept by name, otherwise ignored).
        case other(kind: String)
    }

    /// The line format version (`v`).
    public static let version = 1

    /// The training step the event belongs to.
    public var step: Int
    /// Seconds since the Unix epoch, as written (milliseconds).
    public var time: Double
    /// The kind and its record.
    public var body: Body

    /// An event of step `step` at `time` (now by default).
    public init(step: Int, time: Double = Date().timeIntervalSince1970, _ body: Body) {
        self.step = step
        self.time = (time * 1000).rounded() / 1000
        self.body = body
    }

    /// The kind's name on the line.
    public var kind: String {
        switch body {
        case .start: return "start"
        case .step: return "step"
        case .eval: return "eval"
        case .reactivation: return "reactivation"
        case .snapshot: return "snapshot"
        case .resume: return "resume"
        case .done: return "done"
        case let .other(kind): return kind
        }
    }

    enum CodingKeys: String, CodingKey { case v, step, time, kind }

    /// Reads a line: `v`, `step`, `time` and `kind` are required (a line without them is not an event);
    /// the kind's fields are read leniently, and a kind whose required fields are missing is `other`.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        _ = try c.decode(Int.self, forKey: .v)
        step = try c.decode(Int.self, forKey: .step)
        time = try c.decode(Double.self, forKey: .time)
        let kind = try c.decode(String.self, forKey: .kind)
        switch kind {
        case "start": body = .start(try StartEvent(from: decoder))
        case "step": body = .step(try StepEvent(from: decoder))
        case "eval": body = .eval(try EvalEvent(from: decoder))
        case "reactivation": body = (try? ReactivationEvent(from: decoder)).map(Body.reactivation) ?? .other(kind: kind)
        case "snapshot": body = .snapshot(try SnapshotEvent(from: decoder))
        case "resume": body = .resume(try ResumeEvent(from: decoder))
        case "done": body = .done
        default: body = .other(kind: kind)
        }
    }

    /// Writes the line's object: the common fields and the kind's record, side by side.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.version, forKey: .v)
        try c.encode(step, forKey: .step)
        try c.encode(time, forKey: .time)
        try c.encode(kind, forKey: .kind)
        switch body {
        case let .start(e): try e.encode(to: encoder)
        case let .step(e): try e.encode(to: encoder)
        case let .eval(e): try e.encode(to: encoder)
        case let .reactivation(e): try e.encode(to: encoder)
        case let .snapshot(e): try e.encode(to: encoder)
        case let .resume(e): try e.encode(to: encoder)
        case .done, .other: break
        }
    }

    /// The event as one line of JSON (keys sorted) with its newline.
    public func line() throws -> String {
        String(decoding: try Self.encoder.encode(self), as: UTF8.self) + "\n"
    }

    /// The event of a line's JSON bytes, nil when the line is not an event.
    public static func decode(line: UnsafeRawBufferPointer) -> RunEvent? {
        guard let base = line.baseAddress else { return nil }
        return try? JSONDecoder().decode(RunEvent.self, from: Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base),
                                                                   count: line.count, deallocator: .none))
    }

    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()
}

extension RunEvent: JSONLine {}

extension RunEvent {
    /// The event of one line of JSON text, nil when it is not an event.
    public init?(line: String) {
        var text = line
        guard let event = text.withUTF8({ RunEvent.decode(line: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = event
    }

    /// The event of a parsed JSON object, nil when it is not an event.
    public init?(json: JSONValue) {
        self.init(line: json.serialized())
    }
}
