import Testing
import IdaNumerics
import IdaAnalysis
import IdaRouting
import IdaTerminal
@testable import IdaInspector

@Suite("What each expert takes (Layer screen, t)")
struct ExpertTakesTests {
    @Test("counts, top tokens, the most over-represented class and I/H from literal first choices")
    func literal() {
        // Tokens "aab 1" twice; expert 0 takes the letters, expert 1 the space and the digit.
        let tokens = "aab 1aab 1".utf8.map { Int32($0) }
        let first: [Int32] = [0, 0, 0, 1, 1, 0, 0, 0, 1, 1]
        let selected = first.flatMap { [$0, 1 - $0] }  // top-2: the other expert second
        let takes = ExpertTakes(selected: selected, topK: 2, experts: 2, tokens: tokens, domains: nil, vocabulary: .bytes)
        #expect(takes.total == 10)
        #expect(takes.experts[0].tokens == 6 && takes.experts[1].tokens == 4)
        #expect(takes.experts[0].top.map(\.token) == [97, 98] && takes.experts[0].top.map(\.share) == [4.0 / 6, 2.0 / 6])
        // Expert 1: space and digit 2 each; ties go to the lower id (space 32 before '1' 49).
        #expect(takes.experts[1].top.map(\.token) == [32, 49])
        let lower = takes.experts[0].topClass
        #expect(lower?.0 == .lowercase && lower?.share == 1 && lower?.lift == 1 / 0.6)
        // Space and digit both have lift 5 in expert 1 (half of its tokens, a fifth of all); lower id wins.
        #expect(takes.experts[1].topClass?.0 == .space && takes.experts[1].topClass?.lift == 2.5)
        // The class decides the expert here: I/H = 1; no domains given, so no domain figure.
        let explained = Dictionary(uniqueKeysWithValues: takes.explained.map { ($0.label, $0.normalized) })
        #expect(explained[.domain] == nil && explained[.characterClass] == 1 && explained[.token] == 1)
        var table = LabelExpertCounts(experts: 2)
        for (n, position) in TokenLabels.wordPositions(tokens, vocabulary: .bytes).enumerated() {
            table.add(label: position, expert: Int(first[n]))
        }
        #expect(explained[.wordPosition] == table.normalizedMutualInformation)
    }

    @Test("the t panel replaces the reactivation log on the Layer screen; t again brings it back")
    func panel() throws {
        var state = try ViewsFixture.state(screen: .layer)
        _ = state.update(.key(.character("t")))
        #expect(state.showTakes)
        expectViewSnapshot(ViewsFixture.frames(state, sizes: [(120, 40), (80, 24), (60, 16)]), named: "layer-takes")
        let text = ViewsFixture.frames(state, sizes: [(120, 40)])[0].1.text()
        #expect(text.contains("what each expert takes") && text.contains("I/H(expert)") && !text.contains("reactivation ·"))
        _ = state.update(.key(.character("t")))
        #expect(ViewsFixture.frames(state, sizes: [(120, 40)])[0].1.text().contains("reactivation"))
    }
}
