import Foundation
import IdaRouting
import IdaTerminal
import IdaTestSupport
import Testing
@testable import IdaInspector

/// `rm -rf RUN` and a new run trained into the same path under a follower: the inspector notices
/// the new run.json (another `runId`, or another `created` when neither has an id) and starts over.
@Suite("A run replaced under the follower", .serialized)
struct RunReplacedTests {
    /// Writes a run into `dir` (replacing whatever was there): run.json with `manifest`, the event lines.
    static func writeRun(_ dir: String, manifest: String, lines: [String]) throws {
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir + "/snapshots", withIntermediateDirectories: true)
        try Data(manifest.utf8).write(to: URL(fileURLWithPath: RunLayout(dir).manifest))
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: RunLayout(dir).events))
    }

    static func manifest(id: String?, created: Double, seed: Int) -> String {
        let idField = id.map { #""runId":"\#($0)","# } ?? ""
        return #"{\#(idField)"created":\#(created),"model":{"router":"softmax"},"training":{"auxLoss":0.01,"seed":\#(seed)}}"#
    }

    static func events(evals: [Int], bpb: Double) -> [String] {
        [#"{"v":1,"step":0,"time":1,"kind":"start"}"#]
            + evals.flatMap { s in
                [#"{"v":1,"step":\#(s),"time":2,"kind":"step","loss":3,"cv_mean":0.5}"#,
                 #"{"v":1,"step":\#(s),"time":2,"kind":"eval","val_bpb":\#(bpb),"heldout_cv_mean_topk":0.25}"#]
            }
    }

    @Test("headless: the second frame shows the new run's settings and log only, and says it started over")
    func headlessStartsOver() throws {
        let dir = temporaryDirectory() + "/run"
        try Self.writeRun(dir, manifest: Self.manifest(id: String(repeating: "a", count: 32), created: 1_800_000_000, seed: 1),
                          lines: Self.events(evals: [10, 20, 30], bpb: 4.5))
        let app = InspectorApp(source: .run(dir), probe: nil)
        let before = app.headlessFrame(width: 120, height: 30, keys: [], mode: .full).text()
        #expect(before.contains("seed 1") && before.contains("4.500"), "\(before)")
        #expect(app.state.history.evals.map(\.step) == [10, 20, 30])

        try Self.writeRun(dir, manifest: Self.manifest(id: String(repeating: "b", count: 32), created: 1_800_003_600, seed: 2),
                          lines: Self.events(evals: [5], bpb: 6.25))
        let after = app.headlessFrame(width: 220, height: 30, keys: [], mode: .full).text()
        #expect(after.contains("seed 2") && !after.contains("seed 1"), "\(after)")
        #expect(app.state.history.evals.map(\.step) == [5], "old evaluations mixed in: \(app.state.history.evals.map(\.step))")
        #expect(after.contains("now holds a new run (started 2027-01-15 09:00:00 UTC); starting over"), "\(after)")
        #expect(after.contains("6.250") && !after.contains("4.500"), "\(after)")
    }

    @Test("data and state: a new runId (or, without ids, a new created) starts over; a resume's rewrite of run.json does not")
    func followerAndState() throws {
        let dir = temporaryDirectory() + "/run"
        let idA = String(repeating: "a", count: 32), idB = String(repeating: "b", count: 32)
        try Self.writeRun(dir, manifest: Self.manifest(id: idA, created: 1_800_000_000, seed: 1),
                          lines: Self.events(evals: [10, 20], bpb: 4.5))
        FileManager.default.createFile(atPath: RunLayout(dir).snapshot(step: 20), contents: Data())
        var follower = RunFollower(directory: dir)
        #expect(follower.identity?.runId == idA && follower.identity?.settings == "aux 0.010 · seed 1")
        var state = InspectorState(title: "runs/x", live: true)
        let first = try follower.poll()
        #expect(first.replacement == nil && first.snapshots == [20])
        _ = state.update(.events(first.events))
        _ = state.update(.snapshots(first.snapshots))
        state.analysis = try ViewsFixture.analysis()
        state.analyzing = nil
        _ = state.update(.key(.character("c")))  // B pinned to step 20 of the old run
        #expect(state.comparison != nil && state.pinnedStep == 20)

        // The same run's run.json rewritten (a resume changing the plan): nothing starts over.
        try Data(Self.manifest(id: idA, created: 1_800_000_000, seed: 1).utf8 + Data(" ".utf8))
            .write(to: URL(fileURLWithPath: RunLayout(dir).manifest))
        #expect(try follower.poll().replacement == nil)

        try Self.writeRun(dir, manifest: Self.manifest(id: idB, created: 1_800_003_600, seed: 2),
                          lines: Self.events(evals: [5], bpb: 6.25))
        let second = try follower.poll()
        let replacement = try #require(second.replacement)
        #expect(replacement.runId == idB && second.snapshots.isEmpty)
        #expect(second.events.map(\.step) == [0, 5, 5], "the new run is read from its first line")
        _ = state.update(.runReplaced(replacement))
        _ = state.update(.events(second.events))
        #expect(state.history.evals.map(\.step) == [5] && state.snapshots.isEmpty && state.analysis == nil)
        #expect(state.comparison == nil && state.pinnedStep == nil && !state.split && state.selectedStep == nil)
        #expect(state.settings == "aux 0.010 · seed 2")
        #expect(state.runNotice == "runs/x now holds a new run (started 2027-01-15 09:00:00 UTC); starting over")
        #expect(Alert.all(for: state).contains { $0.text == state.runNotice })
        #expect(try follower.poll().replacement == nil)

        // Runs written before runId existed are told apart by `created`; without either, they cannot be.
        let old = RunIdentity(runId: nil, created: 1), newer = RunIdentity(runId: nil, created: 2)
        #expect(newer.isAnotherRun(than: old) && !old.isAnotherRun(than: old))
        #expect(!RunIdentity(runId: nil, created: nil).isAnotherRun(than: old))
        #expect(RunIdentity(runId: idA, created: 1).isAnotherRun(than: RunIdentity(runId: idB, created: 1)))
    }
}
