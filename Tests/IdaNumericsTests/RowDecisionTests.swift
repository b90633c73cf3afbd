import Testing
@testable import IdaNumerics
import IdaTestSupport

/// `IDARouter.decide(logJoint:...)`'s most probable component, found through the groups' largest
/// numerators, against the definition: the first component at the row's maximum.
@Suite("Row pass: the most probable component")
struct RowDecisionTests {
    func router(experts: Int, perExpert: Int) throws -> IDARouter {
        let config = RouterConfig(experts: experts, componentsPerExpert: perExpert, latentDim: 4, topK: 2,
                                  activation: .gelu, expertScore: .max, inputNorm: .none, logVarMin: -8, logVarMax: 6)
        var rng = SeededGenerator(seed: 3)
        return try IDARouter(config: config, hiddenDim: 8, hidden: [6], rng: &rng)
    }

    /// The lowest index whose value reaches the maximum of the numbers; the last index when none does.
    func firstAtMaximum(_ row: ArraySlice<Double>) -> Int {
        let peak = row.filter { !$0.isNaN }.max() ?? -.infinity
        return (row.firstIndex { $0 >= peak } ?? row.endIndex - 1) - row.startIndex
    }

    @Test("ties go to the lowest index, across groups and within one; -inf and NaN rows fall back to the scan",
          arguments: [(8, 16), (3, 5), (128, 16)])
    func mostProbable(experts: Int, perExpert: Int) throws {
        let r = try router(experts: experts, perExpert: perExpert)
        let k = experts * perExpert
        var rng = SeededGenerator(seed: UInt64(k))
        var rows: [[Double]] = []
        for _ in 0..<200 {
            // Values a few units apart (many within float rounding of the maximum), some tied exactly.
            var row = (0..<k).map { _ in -Double(Int.random(in: 0...40, using: &rng)) * 0.25 - 900 }
            if Bool.random(using: &rng) { row[Int.random(in: 0..<k, using: &rng)] = -899.9999999 }
            if Bool.random(using: &rng) { row[Int.random(in: 0..<k, using: &rng)] = .nan }
            rows.append(row)
        }
        rows.append([Double](repeating: -.infinity, count: k))
        rows.append([Double](repeating: .nan, count: k))
        var mixed = [Double](repeating: -.infinity, count: k)
        mixed[k - 1] = -5
        mixed[k / 2] = -5
        rows.append(mixed)
        let result = r.decide(logJoint: rows.flatMap { $0 }, tokens: rows.count, posteriors: false)
        for (i, row) in rows.enumerated() {
            #expect(Int(result.topComponent?[i] ?? -1) == firstAtMaximum(row[...]), "row \(i)")
        }
    }
}
