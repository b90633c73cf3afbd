import IdaAnalysis
import IdaRouting
import Testing
@testable import IdaCLI

/// `idamoe diff`'s balance rows from literal routings (no model, no BLAS): MaxVio of the top-k,
/// first-choice and gate-weighted loads and each side's load quantiles, against hand-computed values.
@Suite("diff: MaxVio and load quantiles from literal routings")
struct DiffBalanceTests {
    /// Four tokens, four experts, one expert each. A sends two tokens to e0 and one each to e1 and
    /// e2 (load 0.5 0.25 0.25 0; gate-weighted 0.6 0.2 0.2 0); B sends one to each (balanced).
    static func comparison() throws -> LayerComparison {
        func summary(_ selected: [Int32], load: [Double], gate: [Double], cv: Double) -> LayerRoutingSummary {
            var s = LayerRoutingSummary(layer: 0, routerKind: .softmax, experts: 4, componentsPerExpert: 0, topK: 1,
                                        selected: selected, entropyBits: [1, 1, 1, 1], load: load, cv: cv, topComponent: nil,
                                        componentUsage: nil, priors: nil, means: nil, latentDim: 0)
            s.loadGate = gate
            return s
        }
        let a = summary([0, 0, 1, 2], load: [0.5, 0.25, 0.25, 0], gate: [0.6, 0.2, 0.2, 0], cv: 0.5.squareRoot())
        let b = summary([0, 1, 2, 3], load: [0.25, 0.25, 0.25, 0.25], gate: [0.25, 0.25, 0.25, 0.25], cv: 0)
        return try LayerComparison(a, b, options: ComparisonOptions(sameRun: true))
    }

    @Test("MaxVio rows: top-k 0.5 / 0.25 - 1 = 1, first choices 1, gate-weighted 0.6 / 0.25 - 1 = 1.4; B balanced")
    func rows() throws {
        let rows = DiffCommand.balanceRows(try Self.comparison(), views: nil)
        #expect(rows[0] == "  MaxVio        1.000    0.000   -1.000   largest load over the mean, minus 1", "\(rows)")
        #expect(rows[1] == "  MV top-1      1.000    0.000   -1.000   of first choices", "\(rows)")
        #expect(rows[2] == "  MV gate       1.400    0.000   -1.400   of the gate-weighted load", "\(rows)")
        // A's load sorted 0 0.25 0.25 0.5 over fair 0.25: p50 (rank 1.5) 1, p90 (rank 2.7) 0.425 / 0.25 = 1.7,
        // p99 (rank 2.97) 0.4925 / 0.25 = 1.97, max 2.
        #expect(rows[3] == "  load quantiles A: p50 1.00x p90 1.70x p99 1.97x max 2.00x fair", "\(rows)")
        #expect(rows[4] == "  load quantiles B: p50 1.00x p90 1.00x p99 1.00x max 1.00x fair", "\(rows)")
        #expect(rows.count == 5)
        // A summary without a gate-weighted load shows a dash, not a number.
        var l = try Self.comparison()
        l.loadGateB = []
        #expect(DiffCommand.balanceRows(l, views: nil)[2] == "  MV gate       1.400        -        -   of the gate-weighted load")
    }
}
