import Foundation
import IdaTestSupport
import Testing
@testable import IdaNumerics

@Suite("Mixture initialisation: random latents or k-means++ seeds")
struct MixtureInitTests {
    /// Four tight clusters of 50 latents each, far apart.
    static func clusters() -> Matrix {
        var z = Matrix(rows: 200, cols: 2)
        var rng = SeededGenerator(seed: 9)
        let centres: [(Float, Float)] = [(0, 0), (100, 0), (0, 100), (100, 100)]
        for r in 0..<200 {
            let c = centres[r / 50]
            z[r, 0] = c.0 + Float(rng.next() % 1000) / 1000
            z[r, 1] = c.1 + Float(rng.next() % 1000) / 1000
        }
        return z
    }

    @Test("k-means++ puts one of the first four seeds in each of four distant clusters, for every seed")
    func spread() {
        let z = Self.clusters()
        for seed in 1...20 {
            var rng = SeededGenerator(seed: UInt64(seed))
            let chosen = IDARouter.kMeansPlusPlus(z, count: 4, rng: &rng)
            #expect(Set(chosen.map { $0 / 50 }) == [0, 1, 2, 3], "seed \(seed): \(chosen)")
        }
    }

    @Test("more components than distinct latents: every index valid, the rest drawn at random")
    func degenerate() {
        var z = Matrix(rows: 3, cols: 2)
        z[1, 0] = 1
        var rng = SeededGenerator(seed: 4)
        let chosen = IDARouter.kMeansPlusPlus(z, count: 7, rng: &rng)
        #expect(chosen.count == 7 && chosen.allSatisfy { (0..<3).contains($0) })
        #expect(Set(chosen.prefix(2)).count == 2, "the second seed is the other distinct point")
        var again = SeededGenerator(seed: 4)
        #expect(IDARouter.kMeansPlusPlus(z, count: 7, rng: &again) == chosen, "deterministic in the seed")
        var random = SeededGenerator(seed: 4)
        #expect(IDARouter.randomRows(3, count: 7, rng: &random).count == 7)
    }
}
