import Foundation
import Testing
@testable import IdaNumerics
import IdaTestSupport

/// `IDARouter.decide(logJoint:...)`, the router's one-pass row loop over pinned buffers, against a
/// reference written here with plain arrays and scalar loops.
///
/// Same bits, by construction: the reference takes the row's numerators from the same vector
/// primitive (`VectorMath.expShifted` over doubles, which gives a value the same bits wherever it sits
/// in a buffer) and the entropy from `VectorMath.entropyBits`, and repeats every other operation in
/// the order the pass documents: each group's sum in eight lanes added as
/// ((0 + 4) + (2 + 6)) + ((1 + 5) + (3 + 7)), the row sum over experts in order, q and the posteriors
/// as products with one reciprocal, the gates as `chooseExperts` states them. Everything else is
/// compared bit for bit (NaN rows included).
///
/// Not the same bits: against Foundation's exp in double with plain sums the float numerators differ
/// in their last bits (the vector exp is within 1 ulp plus 6e-8 |x| of e^x; VectorMath docs), so that
/// comparison holds q, the posteriors, log p(z) and the entropy to explicit tolerances instead.
@Suite("Row pass: decide(logJoint:) against a scalar reference")
struct DecideReferenceTests {
    /// What the reference computes for a block of rows (shapes as `RoutingResult`).
    struct Reference {
        var selected: [Int32] = [], weights: [Float] = [], q: [Double] = [], posterior: [Double] = []
        var entropy: [Double] = [], logDensity: [Double] = [], topComponent: [Int32] = []
        var rankedComponents: [Int32] = [], rankedPosteriors: [Float] = []
    }

    /// Indices of the k largest values, best first, ties to the lower index, NaN below every number,
    /// -1 past the end: a stable sort, not `topKIndices`'s one-pass insertion.
    static func topIndices(_ values: [Double], k: Int) -> [Int32] {
        let key = values.map { $0.isNaN ? -Double.infinity : $0 }
        let order = key.indices.sorted { key[$0] != key[$1] ? key[$0] > key[$1] : $0 < $1 }
        return (0..<k).map { $0 < order.count ? Int32(order[$0]) : -1 }
    }

    /// The reference row pass, one row at a time.
    static func reference(_ logJoint: [Double], tokens n: Int, config: RouterConfig, rank: Int) -> Reference {
        let e = config.experts, m = config.componentsPerExpert, k = e * m, top = config.topK
        var out = Reference()
        for r in 0..<n {
            let row = Array(logJoint[(r * k)..<((r + 1) * k)])
            // The maximum is exact in any order (NaN never wins; the inputs hold no signed zeros).
            var peak = -Double.infinity
            for v in row where v > peak { peak = v }
            var numerators = [Float](repeating: 0, count: k)
            row.withUnsafeBufferPointer { input in
                numerators.withUnsafeMutableBufferPointer { output in
                    guard let i = input.baseAddress, let o = output.baseAddress else { return }
                    VectorMath.expShifted(i, into: o, shift: peak, count: k)
                }
            }
            var totals = [Double](repeating: 0, count: e), largest = [Float](repeating: 0, count: e)
            for g in 0..<e {
                var lanes = [Double](repeating: 0, count: 8)
                for j in 0..<m { lanes[j % 8] += Double(numerators[g * m + j]) }
                totals[g] = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]))
                for j in 0..<m where numerators[g * m + j] > largest[g] { largest[g] = numerators[g * m + j] }
            }
            out.topComponent.append(Int32(row.firstIndex { $0 >= peak } ?? k - 1))
            var sum = 0.0
            for x in 0..<e { sum += totals[x] }
            let inv = 1 / sum
            out.logDensity.append(peak + Foundation.log(sum))
            var q = [Double](repeating: 0, count: e), score = [Double](repeating: 0, count: e)
            for x in 0..<e {
                q[x] = totals[x] * inv
                score[x] = config.expertScore == .max ? Double(largest[x]) * inv : q[x]
            }
            out.q += q
            out.posterior += numerators.map { Double($0) * inv }
            let ranked = topIndices(numerators.map(Double.init), k: rank)
            out.rankedComponents += ranked
            out.rankedPosteriors += ranked.map { $0 < 0 ? 0 : Float(Double(numerators[Int($0)]) * inv) }
            let chosen = topIndices(score, k: top)
            out.selected += chosen
            let s = chosen.map { score[Int($0)] }
            if config.gateTemperature == 1 {
                var norm = 0.0
                for v in s { norm += v }
                out.weights += s.map { Float($0 / norm) }
            } else {
                let t = config.gateTemperature, best = Foundation.log(s[0])
                var norm = 0.0
                for v in s { norm += v > 0 ? Foundation.exp((Foundation.log(v) - best) / t) : 0 }
                out.weights += s.map { $0 > 0 ? Float(Foundation.exp((Foundation.log($0) - best) / t) / norm) : 0 }
            }
            out.entropy.append(q.withUnsafeBufferPointer { VectorMath.entropyBits($0.baseAddress!, count: e) })
        }
        return out
    }

    /// Rows of log-joints with exact ties (multiples of 0.25, within and across groups) or a wide
    /// spread, single -inf and NaN entries, and whole rows of -inf, of NaN, of one value, and -inf
    /// with two numbers.
    static func rows(components k: Int, seed: UInt64) -> [[Double]] {
        var rng = SeededGenerator(seed: seed)
        var rows: [[Double]] = []
        for i in 0..<150 {
            // Even rows: few distinct values, many exact ties. Odd rows: values spread over about 60, so
            // the numerators span more bits than a double holds and the order of each sum shows.
            var row = i % 2 == 0 ? (0..<k).map { _ in -Double(Int.random(in: 0...40, using: &rng)) * 0.25 - 3 }
                                 : (0..<k).map { _ in -Double(rng.normal()).magnitude * 20 - 3 }
            if i % 3 == 0 { row[Int.random(in: 0..<k, using: &rng)] = -.infinity }
            if i % 4 == 0 { row[Int.random(in: 0..<k, using: &rng)] = .nan }
            if i % 5 == 0 { row[Int.random(in: 0..<k, using: &rng)] = -2.999_999_999 }  // within float rounding of the top
            if i % 11 == 0 { row = row.map { $0 * 400 } }  // numerators that underflow to 0
            rows.append(row)
        }
        rows.append([Double](repeating: -.infinity, count: k))
        rows.append([Double](repeating: .nan, count: k))
        rows.append([Double](repeating: -7.5, count: k))
        var mixed = [Double](repeating: -.infinity, count: k)
        mixed[k - 1] = -5
        mixed[k / 2] = -5
        rows.append(mixed)
        return rows
    }

    /// The first element whose bits differ, or nil.
    static func firstDifference(_ a: [Double], _ b: [Double]) -> String? {
        guard a.count == b.count else { return "\(a.count) values, reference \(b.count)" }
        for i in a.indices where a[i].bitPattern != b[i].bitPattern { return "element \(i): \(a[i]) vs reference \(b[i])" }
        return nil
    }

    static func firstDifference(_ a: [Float], _ b: [Float]) -> String? {
        firstDifference(a.map(Double.init), b.map(Double.init))
    }

    static func firstDifference(_ a: [Int32], _ b: [Int32]) -> String? {
        guard a.count == b.count else { return "\(a.count) values, reference \(b.count)" }
        for i in a.indices where a[i] != b[i] { return "element \(i): \(a[i]) vs reference \(b[i])" }
        return nil
    }

    @Test("same bits as the scalar reference: ties, -inf and NaN rows, max and sum scores, gate temperatures, ranks",
          arguments: [(8, 16, 2, ExpertScore.max, 1.0), (3, 5, 2, .sum, 1.0), (4, 13, 3, .max, 0.7),
                      (5, 9, 1, .sum, 1.5), (1, 1, 1, .max, 1.0), (16, 8, 4, .sum, 2.0)])
    func sameBits(experts: Int, perExpert: Int, topK: Int, score: ExpertScore, temperature: Double) throws {
        let config = RouterConfig(experts: experts, componentsPerExpert: perExpert, latentDim: 4, topK: topK,
                                  activation: .gelu, expertScore: score, inputNorm: .none, gateTemperature: temperature)
        var rng = SeededGenerator(seed: 5)
        let router = try IDARouter(config: config, hiddenDim: 6, hidden: [5], rng: &rng)
        let k = experts * perExpert
        let rows = Self.rows(components: k, seed: UInt64(k * 31 + topK))
        let joint = rows.flatMap { $0 }
        for rank in [0, 3, k + 2] {
            let got = router.decide(logJoint: joint, tokens: rows.count, posteriors: true, rank: rank)
            let want = Self.reference(joint, tokens: rows.count, config: config, rank: rank)
            let label = "E \(experts) M \(perExpert) rank \(rank)"
            let differences: [(String, String?)] = [
                ("selected", Self.firstDifference(got.selected, want.selected)),
                ("weights", Self.firstDifference(got.weights, want.weights)),
                ("q", Self.firstDifference(got.expertProbabilities, want.q)),
                ("posterior", Self.firstDifference(got.posterior, want.posterior)),
                ("entropy", Self.firstDifference(got.entropyBits, want.entropy)),
                ("log density", Self.firstDifference(got.logDensity ?? [], want.logDensity)),
                ("top component", Self.firstDifference(got.topComponent ?? [], want.topComponent)),
                ("ranked components", Self.firstDifference(got.rankedComponents, want.rankedComponents)),
                ("ranked posteriors", Self.firstDifference(got.rankedPosteriors, want.rankedPosteriors)),
            ]
            for (name, difference) in differences { #expect(difference == nil, "\(label) \(name): \(difference ?? "")") }
            #expect(got.ranked == rank)
            // Without the N x K posteriors nothing else changes.
            let lean = router.decide(logJoint: joint, tokens: rows.count, posteriors: false, rank: rank)
            #expect(lean.posterior.isEmpty)
            #expect(Self.firstDifference(lean.weights, got.weights) == nil && lean.selected == got.selected, "\(label)")
            #expect(Self.firstDifference(lean.rankedPosteriors, got.rankedPosteriors) == nil, "\(label)")
        }
        let empty = router.decide(logJoint: [], tokens: 0, posteriors: true, rank: 2)
        #expect(empty.selected.isEmpty && empty.posterior.isEmpty && empty.rankedComponents.isEmpty)
    }

    @Test("within stated tolerances of Foundation's exp with plain double sums (finite rows)")
    func nearDoubleReference() throws {
        let config = RouterConfig(experts: 8, componentsPerExpert: 16, latentDim: 4, topK: 2, inputNorm: .none)
        var rng = SeededGenerator(seed: 5)
        let router = try IDARouter(config: config, hiddenDim: 6, hidden: [5], rng: &rng)
        let k = config.components, e = config.experts, m = config.componentsPerExpert
        var gen = SeededGenerator(seed: 77)
        let rows = (0..<200).map { _ in (0..<k).map { _ in -Double(gen.normal()).magnitude * 6 - 40 } }
        let got = router.decide(logJoint: rows.flatMap { $0 }, tokens: rows.count, posteriors: true)
        var q: [Double] = [], posterior: [Double] = [], logDensity: [Double] = [], entropy: [Double] = []
        for row in rows {
            let peak = row.max() ?? 0
            let numerators = row.map { Foundation.exp($0 - peak) }
            let sum = numerators.reduce(0, +)
            let rowQ = (0..<e).map { x in numerators[(x * m)..<((x + 1) * m)].reduce(0, +) / sum }
            posterior += numerators.map { $0 / sum }
            q += rowQ
            logDensity.append(peak + Foundation.log(sum))
            entropy.append(-rowQ.reduce(0) { $0 + ($1 > 0 ? $1 * Foundation.log2($1) : 0) })
        }
        // Each float numerator is within 1 ulp (1.2e-7) plus 6e-8 |x| of e^x, |x| below 30 here: 1.9e-6
        // relative, and the row sum adds 1.2e-7, so 3e-6 covers every probability; log p(z) moves by
        // the sum's relative error (absolute); the entropy by 3e-6 times sum q |log2 q + 1/ln 2|.
        for check in [checkTensor("q", got.expertProbabilities, q, rtol: 3e-6, atol: 1e-15),
                      checkTensor("posterior", got.posterior, posterior, rtol: 3e-6, atol: 1e-15),
                      checkTensor("log density", got.logDensity ?? [], logDensity, rtol: 0, atol: 2e-6),
                      checkTensor("entropy", got.entropyBits, entropy, rtol: 0, atol: 2e-5)] {
            #expect(check.ok, "\(check)")
        }
    }
}
