import IdaTerminal
import Testing
import IdaFormats
@testable import IdaInspector

@Suite("Inspector state updates")
struct UpdateTests {
    func state(text: String = "hello world\nsecond line here\n") -> InspectorState {
        var s = InspectorState(title: "run", live: true)
        s.tokens = text.utf8.map { Int32($0) }
        return s
    }

    @Test("screens switch by number, Tab cycles, the key table drives every action")
    func screens() {
        var s = state()
        _ = s.update(.key(.character("3")))
        #expect(s.screen == .latent)
        _ = s.update(.key(.tab))
        #expect(s.screen == .tokens)
        _ = s.update(.key(.tab))
        _ = s.update(.key(.tab))
        #expect(s.screen == .overview)
        _ = s.update(.key(.backTab))
        #expect(s.screen == .timeline)
        #expect(s.update(.key(.character("q"))) == [.quit])
        #expect(s.update(.key(.character("x"))) == [])
    }

    @Test("help overlay: ? opens, any key closes, q still quits")
    func help() {
        var s = state()
        _ = s.update(.key(.character("?")))
        #expect(s.showHelp)
        _ = s.update(.key(.character("3")))
        #expect(!s.showHelp && s.screen == .overview)
        _ = s.update(.key(.character("?")))
        #expect(s.update(.key(.character("q"))) == [.quit])
    }

    @Test("token cursor: h/l, words, lines, clamped at both ends")
    func cursor() {
        var s = state()
        _ = s.update(.key(.character("4")))
        _ = s.update(.key(.character("h")))
        #expect(s.cursor == 0)
        _ = s.update(.key(.character("w")))
        #expect(s.cursor == 6)  // "world"
        _ = s.update(.key(.character("w")))
        #expect(s.cursor == 12)  // "second" after the newline
        _ = s.update(.key(.character("b")))
        #expect(s.cursor == 6)
        _ = s.update(.key(.character("j")))
        #expect(s.cursor == 18)  // same column on the next line
        _ = s.update(.key(.character("k")))
        #expect(s.cursor == 6)
        for _ in 0..<100 { _ = s.update(.key(.character("l"))) }
        #expect(s.cursor == s.tokens.count - 1)
    }

    @Test("search: typing, Enter jumps, n finds the next match, misses say so")
    func search() throws {
        var s = state(text: "abc line abc")
        _ = s.update(.key(.character("4")))
        _ = s.update(.key(.character("/")))
        for c in try Key.sequence("a b c") { _ = s.update(.key(c)) }
        #expect(s.prompt == .search("abc"))
        _ = s.update(.key(.character("l")))  // typed, not a cursor move
        _ = s.update(.key(.backspace))
        _ = s.update(.key(.enter))
        #expect(s.prompt == nil && s.cursor == 0)
        _ = s.update(.key(.character("n")))
        #expect(s.cursor == 9)
        _ = s.update(.key(.character("/")))
        _ = s.update(.key(.character("z")))
        _ = s.update(.key(.enter))
        #expect(s.message == "no match for \"z\"")
    }

    @Test("prompts: one open at a time takes every key; go-to takes no spaces, search and text do; Escape closes unsubmitted; C-c quits")
    func prompts() throws {
        var s = state(text: "a b")
        _ = s.update(.key(.character("/")))
        #expect(s.prompt == .jump(""))
        for key in try Key.sequence("e Space 1 q Left F1 ? Tab") { _ = s.update(.key(key)) }
        #expect(s.prompt == .jump("e1q?") && s.screen == .overview && !s.showHelp)
        _ = s.update(.key(.escape))
        #expect(s.prompt == nil && s.selectedExpert == nil && s.message == nil)
        _ = s.update(.key(.character("4")))
        _ = s.update(.key(.character("/")))
        for key in try Key.sequence("a Space b") { _ = s.update(.key(key)) }
        #expect(s.prompt == .search("a b"))
        #expect(s.update(.key(.control("c"))) == [.quit])
        _ = s.update(.key(.escape))
        _ = s.update(.key(.character("e")))
        for key in try Key.sequence("h Space i") { _ = s.update(.key(key)) }
        #expect(s.prompt == .text("h i") && s.searchQuery.isEmpty)
        // Typed text stops at the limit, in bytes.
        s.prompt = .text(String(repeating: "x", count: InspectorState.liveTextLimit - 1))
        _ = s.update(.key(.character("é")))
        _ = s.update(.key(.character("y")))
        #expect(s.prompt?.input.utf8.count == InspectorState.liveTextLimit && s.prompt?.input.last == "y")
    }

    @Test("following: new snapshots are analysed one at a time, newest wins")
    func following() {
        var s = state()
        #expect(s.update(.snapshots([100])) == [.analyze(step: 100)])
        #expect(s.update(.snapshots([200])) == [])  // one analysis at a time
        #expect(s.selectedStep == 200)
        #expect(s.update(.analyzed(step: 100, result: .failure(AnalysisFailure("stale")))) == [.analyze(step: 200)])
        #expect(s.message == nil)  // a stale result does not overwrite anything
        _ = s.update(.analyzed(step: 200, result: .failure(AnalysisFailure("broken file"))))
        #expect(s.message == "broken file")
        // Pausing stops following; stepping back selects older snapshots.
        _ = s.update(.key(.character(" ")))
        #expect(!s.following)
        #expect(s.update(.snapshots([300])) == [])
        #expect(s.selectedStep == 200)
        #expect(s.update(.key(.left)) == [.analyze(step: 100)])
    }

    @Test("zoom is clamped; mouse wheel zooms the latent view; clicking a tab switches")
    func zoomAndMouse() {
        var s = state()
        _ = s.update(.key(.character("3")))
        for _ in 0..<40 { _ = s.update(.key(.character("+"))) }
        #expect(s.zoom == 256)
        _ = s.update(.key(.character("0")))
        #expect(s.zoom == 1)
        s.wheel(up: true)
        #expect(s.zoom == 1.25)
        let x = TabBar.labels[0].1.count + TabBar.labels[1].1.count + 1
        s.leftClick(x: x, y: 0)
        #expect(s.screen == .latent)
        s.leftClick(x: 1, y: 0)
        #expect(s.screen == .overview)
        // Other buttons, releases and presses on nothing never reach update.
        #expect(InspectorEvent(.mouse(MouseEvent(x: 1, y: 0, button: .right, action: .pressed)), on: s) == nil)
        #expect(InspectorEvent(.mouse(MouseEvent(x: 1, y: 0, button: .left, action: .released)), on: s) == nil)
        #expect(InspectorEvent(.mouse(MouseEvent(x: 1, y: 5, button: .left, action: .pressed)), on: s) == nil)
    }

    @Test("every key in the table parses back from its name (as --keys reads it) to the binding's action on each of its screens")
    func keyNames() throws {
        #expect(KeyTable.action(for: .character(" "), on: .overview) == .toggleFollow)
        for binding in KeyTable.bindings {
            for key in binding.keys {
                #expect(Key(name: key.name) == key, "binding \(key) does not round-trip through its name")
                #expect(try Key.sequence(KeyTable.displayName([key])) == [key], "help shows \(key) as a name --keys cannot read")
                // No two rows claim one key on one screen: the handler and the help agree on what it does.
                for screen in binding.screens ?? Screen.allCases where KeyTable.action(for: key, on: screen) != binding.action {
                    let screenRow = KeyTable.bindings.contains { $0.keys.contains(key) && $0.screens?.contains(screen) == true }
                    #expect(binding.screens == nil && screenRow, "\(key) on \(screen.title) does not do \"\(binding.help)\"")
                }
            }
        }
    }

    @Test("footer hints and help come from the key table")
    func footer() {
        let hints = KeyTable.footer(for: .tokens).map(\.0)
        #expect(hints.contains("Right/l") && hints.contains("/") && hints.contains("q/C-c"))
        #expect(!KeyTable.footer(for: .overview).map(\.1).contains("next token"))
    }
}
