import Testing
@testable import IdaNumerics

@Suite("Expert parallelism: rank loads, placements and the EPLB-style what-if")
struct ExpertParallelTests {
    @Test("contiguous: expert e on rank floor(e G / E); a rank's load is the sum of its experts'")
    func contiguous() throws {
        let p = try ExpertPlacement.contiguous(experts: 8, ranks: 3)
        #expect((0..<8).map(p.rank(ofSlot:)) == [0, 0, 0, 1, 1, 1, 2, 2])
        let load = [0.30, 0.10, 0.05, 0.05, 0.20, 0.10, 0.15, 0.05]
        let r = RankLoad(placement: p, expertLoad: load)
        #expect(zip(r.load, [0.45, 0.35, 0.20]).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(r.hottest == 0 && abs(r.maxVio - (0.45 * 3 - 1)) < 1e-12)
    }

    @Test("a replicated expert's load is split evenly over its slots")
    func replicas() throws {
        // Slots: rank 0 holds e0, e1; rank 1 holds e2, e0 (expert 0 twice).
        let p = try ExpertPlacement(ranks: 2, slots: [0, 1, 2, 0], experts: 3)
        let r = RankLoad(placement: p, expertLoad: [0.6, 0.1, 0.3])
        #expect(zip(r.load, [0.4, 0.6]).allSatisfy { abs($0 - $1) < 1e-12 } && r.hottest == 1)
    }

    @Test("the what-if replicates the largest load per replica, then packs the heaviest first onto the least loaded rank")
    func replicated() throws {
        let load = [0.40, 0.20, 0.15, 0.10, 0.05, 0.05, 0.03, 0.02]
        // Two extra slots: e0 (0.40 -> two of 0.20), then e0 again? 0.20 (e0 half) vs e1 0.20: the lower index, e0 (three of 0.133).
        let p = try ExpertPlacement.replicated(load: load, ranks: 2, redundant: 2)
        var count = [Int](repeating: 0, count: 8)
        for e in p.slots { count[e] += 1 }
        #expect(count == [3, 1, 1, 1, 1, 1, 1, 1])
        // Shares, heaviest first: e1 .20, e2 .15, e0 .1333 x3, e3 .10, e4 .05, e5 .05, e6 .03, e7 .02; 5 slots a rank.
        // r0 e1 .20 | r1 e2 .15 | r1 e0 .283 | r0 e0 .333 | r1 e0 .417 | r0 e3 .433 | r1 e4 .467 | r0 e5 .483 | r1 e6 .497 (full) | r0 e7 .503
        #expect(p.slots == [1, 0, 3, 5, 7, 2, 0, 0, 4, 6])
        let r = RankLoad(placement: p, expertLoad: load)
        #expect(abs(r.load[0] - (0.20 + 0.40 / 3 + 0.10 + 0.05 + 0.02)) < 1e-12 && abs(r.load.reduce(0, +) - 1) < 1e-12)
        #expect(r.maxVio < RankLoad(placement: try .contiguous(experts: 8, ranks: 2), expertLoad: load).maxVio)
    }

    @Test("placements that cannot be: too many ranks, an unplaced expert, an index out of range, slots not divisible")
    func failures() {
        #expect(throws: ExpertPlacement.Failure.ranks(ranks: 9, slots: 8)) { try ExpertPlacement.contiguous(experts: 8, ranks: 9) }
        #expect(throws: ExpertPlacement.Failure.unplaced(expert: 2)) { try ExpertPlacement(ranks: 1, slots: [0, 1], experts: 3) }
        #expect(throws: ExpertPlacement.Failure.expert(slot: 1, expert: 3, experts: 3)) { try ExpertPlacement(ranks: 1, slots: [0, 3], experts: 3) }
        #expect(throws: ExpertPlacement.Failure.slotsNotDivisible(slots: 10, ranks: 3)) {
            try ExpertPlacement.replicated(load: [Double](repeating: 0.125, count: 8), ranks: 3, redundant: 2)
        }
    }
}
