import Foundation
import Testing
import IdaFormats
import IdaNumerics
import IdaAnalysis
import IdaRouting
import IdaTestSupport

@Suite("Hungarian assignment")
struct HungarianTests {
    /// The largest total weight over all assignments, by trying every one (small matrices only).
    func bruteForce(_ w: [[Double]]) -> Double {
        let rows = w.count, cols = w.first?.count ?? 0
        var best = -Double.infinity
        func search(_ row: Int, _ used: Set<Int>, _ total: Double, _ skipsLeft: Int) {
            if row == rows {
                best = max(best, total)
                return
            }
            if skipsLeft > 0 { search(row + 1, used, total, skipsLeft - 1) }
            for c in 0..<cols where !used.contains(c) { search(row + 1, used.union([c]), total + w[row][c], skipsLeft) }
        }
        search(0, [], 0, max(0, rows - cols))
        return best
    }

    func total(_ w: [[Double]], _ assignment: [Int?]) -> Double {
        var sum = 0.0
        for (row, column) in assignment.enumerated() {
            if let column { sum += w[row][column] }
        }
        return sum
    }

    @Test("known square and rectangular matrices")
    func known() throws {
        #expect(try Hungarian.maximumWeightAssignment([[7, 5, 11], [5, 4, 1], [9, 3, 2]]) == [2, 1, 0])
        #expect(try Hungarian.maximumWeightAssignment([[1, 0, 5], [0, 3, 4]]) == [2, 1])
        // More rows than columns: the weakest row is left unmatched.
        #expect(try Hungarian.maximumWeightAssignment([[1, 0], [0, 3], [5, 0]]) == [nil, 1, 0])
        #expect(try Hungarian.maximumWeightAssignment([[-1, -2], [-3, -1]]) == [0, 1])
        #expect(try Hungarian.maximumWeightAssignment([]) == [])
        #expect(try Hungarian.maximumWeightAssignment(rows: 2, cols: 0, weights: []) == [nil, nil])
    }

    @Test("ties are broken the same way every time; equal weights give the identity")
    func ties() throws {
        let flat = [[Double]](repeating: [Double](repeating: 2, count: 4), count: 4)
        #expect(try Hungarian.maximumWeightAssignment(flat) == [0, 1, 2, 3])
        let tied: [[Double]] = [[1, 1, 0], [1, 1, 0], [0, 0, 1]]
        let first = try Hungarian.maximumWeightAssignment(tied)
        #expect(first == (try Hungarian.maximumWeightAssignment(tied)))
        #expect(total(tied, first) == 3)
    }

    @Test("matches brute force on random integer matrices with many ties, all shapes")
    func randomAgainstBruteForce() throws {
        var rng = SeededGenerator(seed: 11)
        for (rows, cols) in [(3, 3), (4, 6), (6, 4), (1, 5), (5, 1), (5, 5)] {
            for _ in 0..<20 {
                let w = (0..<rows).map { _ in (0..<cols).map { _ in Double(Int(rng.next() % 4)) } }
                let assignment = try Hungarian.maximumWeightAssignment(w)
                let columns = assignment.compactMap { $0 }
                #expect(columns.count == min(rows, cols))
                #expect(Set(columns).count == columns.count)
                #expect(total(w, assignment) == bruteForce(w), "\(w)")
            }
        }
    }

    @Test("ragged and non-finite matrices are refused with their coordinates")
    func refusals() {
        #expect(throws: ComparisonError.raggedMatrix(rows: 2, cols: 2, count: 3)) {
            try Hungarian.maximumWeightAssignment([[1, 2], [3]])
        }
        #expect(throws: ComparisonError.nonFiniteWeight(row: 1, col: 0)) {
            try Hungarian.maximumWeightAssignment([[1, 2], [.nan, 3]])
        }
    }
}

@Suite("Value distributions")
struct ValueDistributionTests {
    @Test("mean, type-7 quantiles and a histogram symmetric around zero")
    func quantiles() {
        let d = ValueDistribution([5, 1, 4, 2, 3])
        #expect(d.mean == 3)
        #expect(d.p50 == 3)
        #expect(d.p25 == 2)
        #expect(abs(d.p5 - 1.2) < 1e-12)
        #expect(abs(d.p95 - 4.8) < 1e-12)
        #expect(d.limit == 5)
        // Bins of width 10/9 over [-5, 5]; 5 sits on the top edge and joins the last bin.
        #expect(d.counts == [0, 0, 0, 0, 0, 1, 1, 1, 2])
        let zero = ValueDistribution([0, 0, 0])
        #expect(zero.limit == 0)
        #expect(zero.counts[ValueDistribution.bins / 2] == 3)
        #expect(ValueDistribution([]).mean == 0)
    }
}

/// fixtures/tiny-ida.safetensors (E 8, M 4, P 8, layers 0 and 1) with its 600-token probe.
func fixtureCheckpoint() throws -> (RouterCheckpoint, Probe) {
    (try RouterCheckpoint(path: fixturePath("tiny-ida.safetensors")), try Probe(path: fixturePath("tiny-probe.safetensors")))
}

/// A copy of `ck` whose expert e is expert `sigma[e]`: the GMM components move block-wise by expert.
func permutingExperts(_ ck: RouterCheckpoint, _ sigma: [Int]) -> RouterCheckpoint {
    var out = ck
    for (i, router) in ck.routers {
        guard case var .ida(r) = router else { continue }
        let m = r.config.componentsPerExpert, p = r.config.latentDim, g = r.gmm
        var logits = g.logits, means = g.means.data, logVars = g.logVars.data
        for e in sigma.indices {
            for j in 0..<m {
                let from = e * m + j, to = sigma[e] * m + j
                logits[to] = g.logits[from]
                means.replaceSubrange((to * p)..<((to + 1) * p), with: g.means.data[(from * p)..<((from + 1) * p)])
                logVars.replaceSubrange((to * p)..<((to + 1) * p), with: g.logVars.data[(from * p)..<((from + 1) * p)])
            }
        }
        r.gmm = DiagonalGMM(logits: logits, means: Matrix(rows: g.components, cols: p, data: means),
                            logVars: Matrix(rows: g.components, cols: p, data: logVars),
                            logVarMin: g.logVarMin, logVarMax: g.logVarMax)
        out.routers[i] = .ida(r)
    }
    return out
}

@Suite("Checkpoint comparison: the known cases")
struct CheckpointComparisonTests {
    @Test("a checkpoint against itself: full agreement, zero deltas, identity matching")
    func itself() throws {
        let (ck, probe) = try fixtureCheckpoint()
        let options = ComparisonOptions(sameRun: true, domains: probe.domainIDs(), domainNames: probe.domainNames)
        let layers = try CheckpointComparison.compare(ck, probe, ck, probe, options: options)
        #expect(layers.map(\.layer) == [0, 1])
        for l in layers {
            #expect(l.comparableIndices)
            #expect(l.raw == LayerComparison.Agreement(top1: 1, topKJaccard: 1))
            #expect(l.matched == l.raw)
            #expect(l.matchingIsIdentity)
            #expect(l.matching == (0..<8).map { $0 })
            #expect(l.coAssignmentKept == 1)
            #expect(l.loadDelta == [Double](repeating: 0, count: 8))
            #expect(l.cvA == l.cvB)
            #expect(l.entropyChange.limit == 0 && l.entropyChange.mean == 0)
            let c = try #require(l.components)
            #expect(c.priorChange == [Double](repeating: 0, count: 32))
            #expect(c.meanShift == [Double](repeating: 0, count: 32))
            #expect(c.died.isEmpty && c.revived.isEmpty && c.deadA == c.deadB)
            #expect(l.domains.map(\.name) == ["prose", "code", "math", "dialogue"])
            #expect(l.domains.allSatisfy { $0.sharesA == $0.sharesB && $0.shiftRaw == 0 && $0.shiftMatched == 0 })
            #expect(l.domains.map(\.tokens).reduce(0, +) == 600)
        }
    }

    @Test("experts permuted in a copy written to disk: raw agreement 0, matched 100%, permutation recovered")
    func permuted() throws {
        let (ck, _) = try fixtureCheckpoint()
        let sigma = [3, 7, 0, 5, 1, 2, 4, 6]  // no fixed point
        let dir = temporaryDirectory()
        try ck.write(to: dir + "/a.safetensors")
        try permutingExperts(ck, sigma).write(to: dir + "/b.safetensors")
        let c = try CheckpointComparison(a: CheckpointReference.resolve(dir + "/a.safetensors"),
                                         b: CheckpointReference.resolve(dir + "/b.safetensors"),
                                         probe: fixturePath("tiny-probe.safetensors"))
        #expect(!c.sameRun && c.sharedProbe && c.tokens == 600)
        for l in c.layers {
            #expect(!l.comparableIndices)
            #expect(l.raw.top1 == 0)
            #expect(l.matched.top1 == 1)
            #expect(l.matched.topKJaccard == 1)
            #expect(l.matching == sigma.map { Optional($0) })
            #expect(!l.matchingIsIdentity)
            for e in 0..<8 {
                #expect(abs(l.loadB[sigma[e]] - l.loadA[e]) < 1e-12)
                #expect(l.keptPerExpert[e].map { $0 == 1 } ?? true)
            }
            #expect(l.domains.allSatisfy { $0.shiftMatched < 1e-12 })
            #expect(abs(l.entropyChange.mean) < 1e-6)
            // Different runs: component indices are not comparable, so no mean shifts.
            #expect(l.components?.meanShift == nil)
        }
    }

    @Test("one component's prior zeroed: reported dead in B, died from A to B, revived from B to A")
    func zeroedPrior() throws {
        let (ck, probe) = try fixtureCheckpoint()
        let component = 5
        var zeroed = ck
        guard case var .ida(r)? = ck.routers[0] else { Issue.record("no IDA router in layer 0"); return }
        r.gmm.logits[component] = -40
        zeroed.routers[0] = .ida(r)
        let options = ComparisonOptions(sameRun: true)
        let forward = try CheckpointComparison.compare(ck, probe, zeroed, probe, options: options, layer: 0)
        let c = try #require(forward.first?.components)
        #expect(!c.deadA.contains(component))
        #expect(c.deadB.contains(component))
        #expect(c.died == [component])
        #expect(c.revived.isEmpty)
        #expect(c.usageB[component] == 0)
        #expect(abs((c.priorChange?[component] ?? 0) + c.priorsA[component]) < 1e-12)
        #expect(c.meanShift == [Double](repeating: 0, count: 32))
        #expect(c.expertB(ofComponent: component) == 1)
        let backward = try CheckpointComparison.compare(zeroed, probe, ck, probe, options: options, layer: 0)
        #expect(backward.first?.components?.revived == [component])
        #expect(backward.first?.components?.died == [])
    }

    @Test("run directories: newest snapshot, RUN@STEP, sibling probes and the same-run rule")
    func references() throws {
        let (ck, _) = try fixtureCheckpoint()
        let run = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: run + "/snapshots", withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: run + "/run.json"))
        for step in [10, 20] { try ck.write(to: RunLayout(run).snapshot(step: step)) }
        try FileManager.default.copyItem(atPath: fixturePath("tiny-probe.safetensors"),
                                         toPath: run + "/snapshots/step-00000020.probe.safetensors")
        try ck.write(to: run + "/snapshots/step-00000030.optim.safetensors")
        #expect(RunLayout(run).snapshotSteps() == [10, 20])
        let newest = try CheckpointReference.resolve(run)
        #expect(newest.step == 20)
        #expect(newest.snapshotProbe == run + "/snapshots/step-00000020.probe.safetensors")
        #expect(newest.runDirectory == CheckpointReference.canonical(run))
        let older = try CheckpointReference.resolve(run + "@10")
        #expect(older.step == 10 && older.snapshotProbe == nil && older.runDirectory == newest.runDirectory)
        let file = try CheckpointReference.resolve(run + "/snapshots/step-00000010.safetensors")
        #expect(file.runDirectory == newest.runDirectory)
        #expect(throws: ReferenceError.missingStep(run: run, step: 5, available: [10, 20])) {
            try CheckpointReference.resolve(run + "@5")
        }
        #expect(throws: ReferenceError.badStep(spec: run + "@x")) { try CheckpointReference.resolve(run + "@x") }
        #expect(throws: ReferenceError.missingPath(run + "/none")) { try CheckpointReference.resolve(run + "/none") }
        // A B without a snapshot probe streams A's; an A without one needs a probe named. The same
        // run makes indices comparable.
        let defaulted = try CheckpointComparison(a: newest, b: older, layer: 0)
        #expect(defaulted.sharedProbe && defaulted.b.probe == newest.snapshotProbe)
        #expect(throws: ComparisonError.noProbe(checkpoint: older.path)) {
            try CheckpointComparison(a: older, b: newest)
        }
        let c = try CheckpointComparison(a: newest, b: older, probe: fixturePath("tiny-probe.safetensors"), layer: 1)
        #expect(c.sameRun && c.layers.count == 1 && c.layers[0].comparableIndices)
        #expect(throws: ComparisonError.unknownLayer(layer: 4, layersA: [0, 1], layersB: [0, 1])) {
            try CheckpointComparison(a: newest, b: older, probe: fixturePath("tiny-probe.safetensors"), layer: 4)
        }
    }
}
