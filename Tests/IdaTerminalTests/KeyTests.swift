import IdaTerminal
import Testing

@Suite struct KeyTests {
    static let samples: [Key] = [
        .character("q"), .character("?"), .character("]"), .character("3"), .character(" "), .character("é"),
        .character("漢"), .control("c"), .control("z"), .function(1), .function(12), .up, .down, .left, .right,
        .pageUp, .pageDown, .home, .end, .tab, .backTab, .enter, .escape, .backspace, .delete, .insert,
    ]

    @Test(arguments: samples)
    func nameRoundTrip(key: Key) {
        #expect(Key(name: key.name) == key)
    }

    @Test func stableNames() {
        #expect(Key.character("q").name == "q")
        #expect(Key.character(" ").name == "Space")
        #expect(Key.tab.name == "Tab")
        #expect(Key.left.name == "Left")
        #expect(Key.control("c").name == "C-c")
        #expect(Key.function(1).name == "F1")
        #expect(Key.pageDown.name == "PgDn")
        #expect("\(Key.escape)" == "Escape")
        #expect(Key.delete.name == "Delete")
    }

    @Test func aliasesAndCase() {
        #expect(Key(name: "pagedown") == .pageDown)
        #expect(Key(name: "ESCAPE") == .escape)
        #expect(Key(name: "Esc") == .escape)
        #expect(Key(name: "del") == .delete)
        #expect(Key(name: "Return") == .enter)
        #expect(Key(name: "S-Tab") == .backTab)
        #expect(Key(name: "c-X") == .control("x"))
        #expect(Key(name: "Q") == .character("Q"))
    }

    @Test func rejectsUnknownNames() {
        for name in ["", "F0", "F25", "F01", "C-1", "C-ab", "Foo", "\t"] {
            #expect(Key(name: name) == nil, "\(name)")
        }
    }

    @Test func parsesScripts() throws {
        #expect(try Key.sequence("3 ] l l") == [.character("3"), .character("]"), .character("l"), .character("l")])
        #expect(try Key.sequence("  Tab  PgDn\tC-c q ") == [.tab, .pageDown, .control("c"), .character("q")])
        #expect(try Key.sequence("").isEmpty)
        #expect(throws: KeyNameError(name: "Bogus", index: 1)) { try Key.sequence("q Bogus") }
    }
}
