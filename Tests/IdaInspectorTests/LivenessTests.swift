import Foundation
import IdaRouting
import IdaTerminal
import IdaTestSupport
import Testing
@testable import IdaInspector

/// A run is "live" only while a writer holds its lock (docs/format.md, "One writer"); without one it
/// is finished (its log ends with `done`) or stopped.
@Suite("Run liveness from the writer's lock", .serialized)
struct LivenessTests {
    /// A run directory with run.json and the event lines `lines` (no snapshot).
    static func makeRun(_ lines: [String]) throws -> String {
        let dir = temporaryDirectory() + "/run"
        try FileManager.default.createDirectory(atPath: dir + "/snapshots", withIntermediateDirectories: true)
        try Data("{}\n".utf8).write(to: URL(fileURLWithPath: RunLayout(dir).manifest))
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: RunLayout(dir).events))
        return dir
    }

    static let steps = [
        #"{"v":1,"step":0,"time":1,"kind":"start"}"#,
        #"{"v":1,"step":1,"time":2,"kind":"step","loss":3}"#,
        #"{"v":1,"step":7,"time":3,"kind":"step","loss":2}"#,
    ]

    /// The tab bar of a headless frame of `dir`.
    static func statusBar(_ dir: String, width: Int = 100) -> String {
        let app = InspectorApp(source: .run(dir), probe: nil)
        return app.headlessFrame(width: width, height: 30, keys: [], mode: .full).lines()[0]
    }

    @Test("events but no writer: stopped at the last step logged; a held lock: live; a done event: finished")
    func statusFollowsTheLock() throws {
        let dir = try Self.makeRun(Self.steps)
        let stopped = Self.statusBar(dir)
        #expect(stopped.contains("stopped at step 7, no writer") && !stopped.contains("live"), "\(stopped)")

        let lock = try RunLock(writing: dir)
        let live = Self.statusBar(dir)
        #expect(live.contains("● live") && !live.contains("stopped"), "\(live)")
        lock.release()
        #expect(Self.statusBar(dir).contains("stopped at step 7, no writer"))

        let done = try Self.makeRun(Self.steps + [#"{"v":1,"step":7,"time":4,"kind":"done"}"#])
        let finished = Self.statusBar(done)
        #expect(finished.contains("finished") && !finished.contains("live") && !finished.contains("stopped"), "\(finished)")
    }

    @Test("the follower re-asks the lock on every poll: a writer that dies turns live into stopped")
    func followerReportsTheWriter() throws {
        let dir = try Self.makeRun(Self.steps)
        var follower = RunFollower(directory: dir)
        let lock = try RunLock(writing: dir)
        #expect(try follower.poll().writer == .live)
        lock.release()
        #expect(try follower.poll().writer == RunLock.Writer.none)
        try FileManager.default.removeItem(atPath: dir)
        #expect(try follower.poll().writer == .unknown)

        var state = InspectorState(title: "runs/x", live: true)
        _ = state.update(.events(try follower.poll().events))
        state.history = ViewsFixture.history(Self.steps)
        _ = state.update(.writer(.live))
        #expect(ChromeView.statusParts(state, theme: Theme(.full)).first?.0 == "● live")
        _ = state.update(.writer(RunLock.Writer.none))
        #expect(ChromeView.statusParts(state, theme: Theme(.full)).first?.0 == "stopped at step 7, no writer")
        // Narrow: the short form keeps the point.
        var buffer = ScreenBuffer(width: 62, height: 1)
        ChromeView.renderTabBar(state, theme: Theme(.full), row: buffer.bounds, into: &buffer)
        #expect(buffer.lines()[0].hasSuffix("stopped"), "\(buffer.lines()[0])")
    }
}
