import Foundation
import IdaFormats
import Testing

@Suite("JSON-lines event log reader")
struct EventLogReaderTests {
    static func line(step: Int, kind: String = "train", extra: String = "") -> String {
        #"{"v":1,"step":\#(step),"time":\#(Double(step) * 0.5),"kind":"\#(kind)"\#(extra)}"# + "\n"
    }

    @Test("a missing file has no events until it appears")
    func missingFile() throws {
        let directory = try TemporaryDirectory()
        var reader = EventLogReader<EventRecord>(path: directory.file("events.jsonl"))
        #expect(try reader.readNew().isEmpty)
        #expect(try reader.readNew().isEmpty)
        try directory.append(Self.line(step: 1), to: "events.jsonl")
        #expect(try reader.readNew().map(\.step) == [1])
        #expect(reader.skippedLines == 0)
    }

    @Test("records carry the required fields and keep unknown ones")
    func recordFields() throws {
        let directory = try TemporaryDirectory()
        try directory.append(Self.line(step: 7, kind: "eval", extra: #","loss":0.25,"tags":["a"]"#), to: "events.jsonl")
        var reader = EventLogReader<EventRecord>(path: directory.file("events.jsonl"))
        let records = try reader.readNew()
        let record = try #require(records.first)
        #expect(records.count == 1)
        #expect(record.version == 1 && record.step == 7 && record.time == 3.5 && record.kind == "eval")
        #expect(record.fields["loss"]?.double == 0.25)
        #expect(record.fields["tags"] == .array([.string("a")]))
        #expect(record.fields["step"]?.int == 7)
    }

    @Test("a torn last line is held back until a later append completes it")
    func tornLine() throws {
        let directory = try TemporaryDirectory()
        let full = Self.line(step: 2)
        let cut = full.index(full.startIndex, offsetBy: 10)
        try directory.append(Self.line(step: 1) + String(full[..<cut]), to: "events.jsonl")
        var reader = EventLogReader<EventRecord>(path: directory.file("events.jsonl"))
        #expect(try reader.readNew().map(\.step) == [1])
        #expect(try reader.readNew().isEmpty)
        try directory.append(String(full[cut...].dropLast()), to: "events.jsonl")  // still no newline
        #expect(try reader.readNew().isEmpty)
        try directory.append("\n" + Self.line(step: 3), to: "events.jsonl")
        #expect(try reader.readNew().map(\.step) == [2, 3])
        #expect(reader.skippedLines == 0)
    }

    @Test("invalid lines in the middle are skipped and counted")
    func garbageLines() throws {
        let directory = try TemporaryDirectory()
        let text = Self.line(step: 1)
            + "this is not json\n"
            + #"{"v":1,"step":2,"time":1}"# + "\n"  // no "kind"
            + #"{"v":1,"step":2.5,"time":1,"kind":"x"}"# + "\n"  // fractional step
            + "[1, 2]\n"
            + "\n"
            + #"{"v":1,"step":3,"time":1,"kind":"x","kind":"y"}"# + "\n"  // duplicate key
            + Self.line(step: 4)
        try directory.append(text, to: "events.jsonl")
        var reader = EventLogReader<EventRecord>(path: directory.file("events.jsonl"))
        #expect(try reader.readNew().map(\.step) == [1, 4])
        #expect(reader.skippedLines == 6)
        try directory.append("{broken\n" + Self.line(step: 5), to: "events.jsonl")
        #expect(try reader.readNew().map(\.step) == [5])
        #expect(reader.skippedLines == 7)
    }

    @Test("a truncated file is read again from the start")
    func truncatedFile() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("events.jsonl")
        try directory.append(Self.line(step: 1) + Self.line(step: 2) + Self.line(step: 3), to: "events.jsonl")
        var reader = EventLogReader<EventRecord>(path: path)
        #expect(try reader.readNew().map(\.step) == [1, 2, 3])
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: 0)
        try handle.close()
        #expect(try reader.readNew().isEmpty)
        try directory.append(Self.line(step: 10), to: "events.jsonl")
        #expect(try reader.readNew().map(\.step) == [10])
    }

    @Test("a file truncated and refilled past the old end is noticed")
    func refilledFile() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("events.jsonl")
        try directory.append(Self.line(step: 1), to: "events.jsonl")
        var reader = EventLogReader<EventRecord>(path: path)
        #expect(try reader.readNew().map(\.step) == [1])
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: 0)
        try handle.close()
        try directory.append(Self.line(step: 20, extra: #","pad":"xx""#) + Self.line(step: 21), to: "events.jsonl")
        #expect(try reader.readNew().map(\.step) == [20, 21])
    }

    @Test("a file replaced by rename is read from the start")
    func replacedFile() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("events.jsonl")
        try directory.append(Self.line(step: 1) + Self.line(step: 2), to: "events.jsonl")
        var reader = EventLogReader<EventRecord>(path: path)
        #expect(try reader.readNew().map(\.step) == [1, 2])
        try directory.append(Self.line(step: 1) + Self.line(step: 2) + Self.line(step: 3), to: "next.jsonl")
        #expect(rename(directory.file("next.jsonl"), path) == 0)
        #expect(try reader.readNew().map(\.step) == [1, 2, 3])
        try FileManager.default.removeItem(atPath: path)
        #expect(try reader.readNew().isEmpty)
        try directory.append(Self.line(step: 9), to: "events.jsonl")
        #expect(try reader.readNew().map(\.step) == [9])
    }

    @Test("over-long lines are dropped without buffering them, then counted")
    func longLines() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("events.jsonl")
        var reader = EventLogReader<EventRecord>(path: path, maxLineBytes: 100)
        let long = Self.line(step: 2, extra: ",\"pad\":\"" + String(repeating: "x", count: 300) + "\"")
        let cut = long.index(long.startIndex, offsetBy: 150)
        try directory.append(Self.line(step: 1) + String(long[..<cut]), to: "events.jsonl")
        #expect(try reader.readNew().map(\.step) == [1])
        try directory.append(String(long[cut...]) + Self.line(step: 3), to: "events.jsonl")
        #expect(try reader.readNew().map(\.step) == [3])
        #expect(reader.skippedLines == 1)
    }

    @Test("large logs are read across many chunks")
    func largeLog() throws {
        let directory = try TemporaryDirectory()
        let text = (0..<5000).map { Self.line(step: $0) }.joined()
        #expect(text.utf8.count > 3 * 65536)
        try directory.append(text, to: "events.jsonl")
        var reader = EventLogReader<EventRecord>(path: directory.file("events.jsonl"))
        #expect(try reader.readNew().map(\.step) == Array(0..<5000))
        #expect(try reader.readNew().isEmpty)
    }
}
