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
}
