import Foundation
import IdaRouting
import IdaFormats
import IdaTestSupport
import Testing
@testable import IdaInspector

/// The inspector keeps following what it can when the run's files go wrong under it, and says so.
@Suite("Run problems while following")
struct RunProblemsTests {
    /// A run directory with run.json and two event lines.
    func makeRun() throws -> String {
        let dir = temporaryDirectory() + "/run"
        try FileManager.default.createDirectory(atPath: dir + "/snapshots", withIntermediateDirectories: true)
        try Data("{}\n".utf8).write(to: URL(fileURLWithPath: RunLayout(dir).manifest))
        let lines = [#"{"v":1,"step":0,"time":1,"kind":"start"}"#, #"{"v":1,"step":1,"time":2,"kind":"step","loss":3}"#]
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: RunLayout(dir).events))
        return dir
    }

    func append(_ text: String, to dir: String) throws {
        let handle = try #require(FileHandle(forWritingAtPath: RunLayout(dir).events))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }

    @Test("a garbage line warns, a directory renamed away is an error that clears when it is back; nothing is read twice")
    func problems() throws {
        let dir = try makeRun()
        var follower = RunFollower(directory: dir)
        #expect(try follower.poll().events.count == 2)
        #expect(follower.problems().isEmpty)
        try append("{garbage\n" + #"{"v":1,"step":2,"time":3,"kind":"step","loss":2}"# + "\n", to: dir)
        #expect(try follower.poll().events.map(\.step) == [2])
        #expect(follower.problems() == [RunProblem("events.jsonl: skipped 1 line that is not an event (torn by a killed trainer, or damaged)",
                                                   serious: false)])
        let moved = dir + "-moved"
        try FileManager.default.moveItem(atPath: dir, toPath: moved)
        #expect(try follower.poll().events.isEmpty)
        #expect(follower.problems().first == RunProblem("\(dir) is gone (deleted or renamed); showing what was read before", serious: true))
        try FileManager.default.moveItem(atPath: moved, toPath: dir)
        try append(#"{"v":1,"step":3,"time":4,"kind":"step","loss":1}"# + "\n", to: dir)
        #expect(try follower.poll().events.map(\.step) == [3])
        #expect(follower.problems().count == 1 && follower.problems().first?.serious == false)

        // The alerts panel lists them first, errors before warnings.
        var state = InspectorState(title: dir, live: true)
        _ = state.update(.runProblems([RunProblem("gone", serious: true), RunProblem("skipped", serious: false)]))
        state.analysisFailure = "truncated"
        state.selectedStep = 6
        let alerts = Alert.all(for: state)
        #expect(alerts.prefix(3).map(\.text) == ["gone", "step 6 cannot be analysed: truncated", "skipped"])
        #expect(alerts[0].level == .error && alerts[2].level == .warning)
    }

    @Test("two followers of one live run both see every new line and snapshot")
    func twoFollowers() throws {
        let dir = try makeRun()
        var a = RunFollower(directory: dir), b = RunFollower(directory: dir)
        #expect(try a.poll().events.count == 2)
        try append(#"{"v":1,"step":2,"time":3,"kind":"step","loss":2}"# + "\n", to: dir)
        FileManager.default.createFile(atPath: RunLayout(dir).snapshot(step: 2), contents: Data())
        let fromA = try a.poll(), fromB = try b.poll()
        #expect(fromA.events.map(\.step) == [2] && fromA.snapshots == [2])
        #expect(fromB.events.map(\.step) == [0, 1, 2] && fromB.snapshots == [2])
    }
}
