import IdaNumerics
import Testing

@Suite("Top-k selection")
struct TopKTests {
    func topK(_ scores: [Double], _ k: Int) -> [Int32] {
        var out = [Int32](repeating: -1, count: k)
        scores.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { topKIndices(s, k: k, into: $0) } }
        return out
    }

    @Test("best first, ties to the lower index, NaN never wins, any number of experts")
    func selection() {
        #expect(topK([0.1, 0.5, 0.2, 0.5], 3) == [1, 3, 2])
        #expect(topK([.nan, 0.3, .nan, 0.1], 2) == [1, 3])
        // 300 experts: the best ones sit past index 64 and 256.
        var scores = [Double](repeating: 0.001, count: 300)
        scores[299] = 0.9
        scores[70] = 0.8
        scores[257] = 0.8
        scores[3] = 0.7
        #expect(topK(scores, 4) == [299, 70, 257, 3])
        #expect(topK([0.2], 1) == [0])
    }

    /// k passes of "the best not yet chosen", the definition the one-pass selection must match.
    func reference(_ scores: [Double], _ k: Int) -> [Int32] {
        var out: [Int32] = []
        for _ in 0..<k {
            var best = -1
            var bestValue = -Double.infinity
            for (e, s) in scores.enumerated() where !out.contains(Int32(e)) {
                let value = s.isNaN ? -Double.infinity : s
                if best < 0 || value > bestValue { best = e; bestValue = value }
            }
            out.append(Int32(best))
        }
        return out
    }

    @Test("one pass matches k passes of the best not yet chosen: ties, NaN, -inf, k above the count")
    func matchesRepeatedSelection() {
        var rng = SeededGenerator(seed: 11)
        let palette: [Double] = [0.1, 0.2, 0.2, 0.5, .nan, -.infinity, .infinity, 0]
        for trial in 0..<2_000 {
            let count = Int.random(in: 1...12, using: &rng)
            let scores = (0..<count).map { _ in
                Bool.random(using: &rng) ? palette.randomElement(using: &rng) ?? 0 : Double.random(in: 0...1, using: &rng)
            }
            let k = Int.random(in: 1...(count + 2), using: &rng)
            #expect(topK(scores, k) == reference(scores, k), "trial \(trial): \(scores) k \(k)")
        }
    }
}
