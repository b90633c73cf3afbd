import Foundation
import IdaFormats
import IdaRouting
import IdaTerminal
import Testing
@testable import IdaInspector

/// The expert-parallel view over time, from literal step events: per layer the busiest rank's
/// MaxVio at each step, which rank is busiest and since when, and the layer that stalls most.
@Suite("Inspector: the expert-parallel view over the training steps")
struct ExpertParallelViewsTests {
    /// Four experts on two ranks (e0 e1 on r0, e2 e3 on r1), four logged steps. Layer 0's rank loads:
    /// step 10 [0.7 0.3] (r0, MaxVio 0.4), step 20 [0.3 0.7] (r1, 0.4), step 30 [0.4 0.6] (r1, 0.2),
    /// step 40 [0.2 0.8] (r1, 0.6): r1 has been the busiest since step 20. Layer 1 is balanced until
    /// step 40, [0.6 0.4] (r0, 0.2).
    static let steps: [(step: Int, l0: [Double], l1: [Double])] = [
        (10, [0.4, 0.3, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25]),
        (20, [0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.25, 0.25]),
        (30, [0.2, 0.2, 0.3, 0.3], [0.25, 0.25, 0.25, 0.25]),
        (40, [0.1, 0.1, 0.4, 0.4], [0.3, 0.3, 0.2, 0.2]),
    ]

    static func history() -> RunHistory {
        func list(_ xs: [Double]) -> String { "[" + xs.map { String($0) }.joined(separator: ",") + "]" }
        let lines = steps.map { s in
            #"{"v":1,"step":\#(s.step),"time":1,"kind":"step","loss":2.0,"cv_mean":0.3,"layers":[{"layer":0,"load":\#(list(s.l0)),"cv":0.5,"entropy":1.5},"#
                + #"{"layer":1,"load":\#(list(s.l1)),"cv":0.1,"entropy":1.9}]}"#
        }
        var h = RunHistory()
        h.append(lines.compactMap { RunEvent(line: $0) })
        return h
    }

    static func state(plan: ExpertParallelPlan, width: Int = 120, height: Int = 40) -> InspectorState {
        var s = InspectorState(title: "runs/ep", live: false, expertParallel: plan)
        s.history = history()
        s.width = width
        s.height = height
        return s
    }

    @Test("per layer: rank MaxVio at each step, the busiest rank now and the step since which it has been")
    func trend() throws {
        let plan = ExpertParallelPlan(ranks: 2)
        let l0 = try #require(RankTrend.of(layer: 0, history: Self.history(), plan: plan))
        for (got, want) in zip(l0.maxVio, [0.4, 0.4, 0.2, 0.6]) { #expect(abs(got - want) < 1e-12, "\(l0.maxVio)") }
        #expect(l0.hottest == 1 && l0.since == 20 && l0.latestStep == 40 && abs(l0.latest - 0.6) < 1e-12)
        let l1 = try #require(RankTrend.of(layer: 1, history: Self.history(), plan: plan))
        // Balanced steps name rank 0 (the lowest of ties), so r0 has been the busiest all along.
        #expect(l1.hottest == 0 && l1.since == 10 && abs(l1.latest - 0.2) < 1e-12)
        #expect(RankTrend.worst(history: Self.history(), plan: plan)?.layer == 0)
        // Off: nothing to show.
        var off = plan
        off.shown = false
        #expect(RankTrend.worst(history: Self.history(), plan: off) == nil)
        #expect(OverviewView.stallLine(l0, width: 200) == "stalls most: L0 r1, rank MaxVio 0.60 @ step 40, the busiest since step 20")
    }

    @Test("the Overview's layer table: rank columns, the rank MaxVio trend in the sparkline, the stalling rank last")
    func overviewTable() throws {
        let state = Self.state(plan: ExpertParallelPlan(ranks: 2))
        let matrix = try #require(LoadMatrix.from(state))
        let area = Rect(x: 0, y: 0, width: 100, height: 8)
        var buffer = ScreenBuffer(width: 100, height: 8)
        OverviewView.renderLayerTable(matrix, order: [0, 1], focus: 0, state: state, theme: Theme(.full), in: area,
                                      into: &buffer)
        let lines = buffer.text().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0].hasPrefix("layer  train CV MaxVio rank MV  hot dead rank MaxVio over steps, 2 ranks"), "\(lines)")
        #expect(lines[1].hasPrefix("L0        0.500   0.60    0.60   r1    -"), "\(lines)")
        #expect(lines[2].hasPrefix("L1        0.100   0.20    0.20   r0    -"), "\(lines)")
        // The sparkline after the fixed columns is layer 0's rank MaxVio series 0.4 0.4 0.2 0.6 on 0...1.
        var spark = ScreenBuffer(width: 100 - 41, height: 1)
        Sparkline(values: [0.4, 0.4, 0.2, 0.6], min: 0, max: 1, style: .plain, mode: .full)
            .render(in: Rect(x: 0, y: 0, width: 100 - 41, height: 1), into: &spark)
        #expect(String(lines[1].dropFirst(41)) == spark.text().split(separator: "\n", omittingEmptySubsequences: false)[0],
                "\(lines[1])")
        #expect(lines[3...5] == ["train CV p50 0.300 p90 0.460 p99 0.496 max 0.500", "MaxVio   p50 0.40 p90 0.56 p99 0.60 max 0.60",
                                 "stalls most: L0 r1, rank MaxVio 0.60 @ step 40, the busiest since step 20"], "\(lines)")
        // Without expert parallelism the sparkline is the layer's train CV and no line names a rank.
        var plain = state
        plain.expertParallel.shown = false
        var other = ScreenBuffer(width: 100, height: 8)
        OverviewView.renderLayerTable(matrix, order: [0, 1], focus: 0, state: plain, theme: Theme(.full), in: area, into: &other)
        #expect(!other.text().contains("stalls") && other.text().contains("train CV over steps"))
    }

    @Test("a placement file places by its map; --redundant adds the MaxVio after replication; g shows and hides it")
    func placementAndWhatIf() throws {
        let path = NSTemporaryDirectory() + "ep-placement-\(getpid()).json"
        // Swap the middle experts: r0 holds e0 e2, r1 holds e1 e3.
        try Data(#"{"ranks":2,"physical_to_logical":[0,2,1,3]}"#.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        var plan = ExpertParallelPlan(placement: try PlacementFile(path: path), redundant: 2)
        // Step 40 layer 0: r0 = 0.1 + 0.4, r1 = 0.1 + 0.4: balanced.
        let placed = try #require(plan.rankLoad(layer: 0, load: [0.1, 0.1, 0.4, 0.4]))
        #expect(abs(placed.maxVio) < 1e-12 && placed.hottest == 0)
        // What-if with 2 extra slots on step 10's load 0.4 0.3 0.2 0.1: e0 and then e1 are replicated
        // (0.2 0.2 0.15 0.15 0.2 0.1 per slot), packed heaviest first onto the lighter rank, three
        // slots each: r0 0.2 + 0.2 + 0.1 (e0, e2, e3) = 0.5, r1 0.2 + 0.15 + 0.15 = 0.5: MaxVio 0.
        let after = try #require(plan.replicated(layer: 0, load: [0.4, 0.3, 0.2, 0.1]))
        #expect(abs(after.maxVio) < 1e-12, "\(after.load)")
        var state = Self.state(plan: plan)
        let frame = ViewsFixture.frames(state, sizes: [(160, 40)])[0].1.text()
        #expect(frame.contains("rank MV  hot after"), "\(frame)")
        _ = state.update(.key(.character("g")))
        #expect(!state.expertParallel.shown)
        _ = state.update(.key(.character("g")))
        #expect(state.expertParallel.shown && state.expertParallel.placement != nil)
        // A map that names an expert the layers do not have is an error alert and the headless failure.
        try Data(#"{"ranks":2,"physical_to_logical":[0,1,2,7]}"#.utf8).write(to: URL(fileURLWithPath: path))
        plan = ExpertParallelPlan(placement: try PlacementFile(path: path))
        state = Self.state(plan: plan)
        let problem = try #require(state.expertParallelProblem)
        #expect(problem.contains("layer 0: slot 3 holds expert 7") && !problem.contains("\n"), "\(problem)")
        #expect(ViewsFixture.frames(state, sizes: [(160, 40)])[0].1.text().contains("slot 3 holds expert 7"))
    }
}
