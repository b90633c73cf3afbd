import Foundation
import Testing
import IdaNumerics

@Suite("Mutual information between a label and the first-choice expert")
struct MutualInformationTests {
    @Test("a label that decides the expert gives I = H(E) and 1 normalised; an independent one gives 0")
    func extremes() {
        var decided = LabelExpertCounts(experts: 4)
        var independent = LabelExpertCounts(experts: 4)
        for n in 0..<400 {
            decided.add(label: Int32(n % 4), expert: n % 4)
            // Labels cycle every 2 tokens, experts every 4 in blocks: each label meets every expert equally.
            independent.add(label: Int32(n % 2), expert: (n / 2) % 4)
        }
        #expect(abs(decided.mutualInformationBits - 2) < 1e-12 && abs(decided.normalizedMutualInformation - 1) < 1e-12)
        #expect(abs(decided.expertEntropyBits - 2) < 1e-12)
        #expect(independent.mutualInformationBits < 1e-12 && independent.normalizedMutualInformation < 1e-12)
    }

    @Test("known value: two labels, two experts, 3:1 agreement")
    func knownValue() {
        var t = LabelExpertCounts(experts: 2)
        for _ in 0..<3 { t.add(label: 0, expert: 0); t.add(label: 1, expert: 1) }
        t.add(label: 0, expert: 1)
        t.add(label: 1, expert: 0)
        // H(E) = 1 bit; H(E | label) = H(3/4) = 0.811278 bits; I = 0.188722.
        let h34 = -(0.75 * log2(0.75) + 0.25 * log2(0.25))
        #expect(abs(t.mutualInformationBits - (1 - h34)) < 1e-12)
    }

    @Test("merging blocks equals counting everything at once")
    func merge() {
        var whole = LabelExpertCounts(experts: 3), a = LabelExpertCounts(experts: 3), b = LabelExpertCounts(experts: 3)
        for n in 0..<90 {
            let (label, expert) = (Int32(n % 5), (n * 7) % 3)
            whole.add(label: label, expert: expert)
            if n < 40 { a.add(label: label, expert: expert) } else { b.add(label: label, expert: expert) }
        }
        a.merge(b)
        #expect(a == whole)
        #expect(LabelExpertCounts(experts: 3).mutualInformationBits == 0)
    }

    @Test("counting a whole column equals counting token by token: flat table, wide labels, bad choices skipped")
    func bulk() {
        var rng = SystemRandomNumberGenerator()
        for spread: Int32 in [7, 300, 100_000] {  // the last spans more than 2^16 values: one by one
            let labels = (0..<2_000).map { _ in Int32.random(in: -1..<spread, using: &rng) }
            let choices = (0..<2_000).map { _ in Int32.random(in: -1...4, using: &rng) }  // -1 and 4 are not experts
            var one = LabelExpertCounts(experts: 4), bulk = LabelExpertCounts(experts: 4)
            for (label, choice) in zip(labels, choices) where choice >= 0 && choice < 4 {
                one.add(label: label, expert: Int(choice))
            }
            bulk.add(labels: labels[...], choices: choices[...])
            #expect(bulk == one, "spread \(spread)")
            #expect(bulk.tokens == choices.filter { $0 >= 0 && $0 < 4 }.count)
        }
        var empty = LabelExpertCounts(experts: 2)
        empty.add(labels: [], choices: [])
        #expect(empty == LabelExpertCounts(experts: 2))
    }

    @Test("AUROC: perfect, reversed, chance, ties count half, empty or NaN gives nil")
    func auroc() {
        #expect(areaUnderROC(positive: [3, 4, 5], negative: [0, 1, 2]) == 1)
        #expect(areaUnderROC(positive: [0, 1], negative: [2, 3]) == 0)
        #expect(areaUnderROC(positive: [1, 1], negative: [1, 1]) == 0.5)
        // Pairs: (2 vs 1) win, (2 vs 3) lose, (4 vs 1) win, (4 vs 3) win: 3 of 4.
        #expect(areaUnderROC(positive: [2, 4], negative: [1, 3]) == 0.75)
        // One tie among four pairs: (2 vs 2) half, (2 vs 1) win, (5 vs 2) win, (5 vs 1) win.
        #expect(areaUnderROC(positive: [2, 5], negative: [2, 1]) == 0.875)
        #expect(areaUnderROC(positive: [], negative: [1]) == nil)
        #expect(areaUnderROC(positive: [.nan], negative: [1]) == nil)
    }
}
