import IdaTerminal
import Testing
@testable import IdaInspector

/// Mouse clicks resolved through the geometry the views draw with.
@Suite("Inspector mouse clicks")
struct ClickTests {
    /// The first (x, y) where `text` starts in `buffer`, searching columns from `fromX`.
    func locate(_ text: String, in buffer: ScreenBuffer, fromX: Int = 0) -> (x: Int, y: Int)? {
        for (y, line) in buffer.lines().enumerated() {
            let cells = Array(line)
            let needle = Array(text)
            guard cells.count >= needle.count else { continue }
            for x in fromX...(cells.count - needle.count) where Array(cells[x..<(x + needle.count)]) == needle {
                return (x, y)
            }
        }
        return nil
    }

    func frame(_ state: InspectorState) -> ScreenBuffer {
        var buffer = ScreenBuffer(width: state.width, height: state.height)
        InspectorView.render(state, mode: state.displayMode, into: &buffer)
        return buffer
    }

    @Test("a load bar selects its expert: highlighted label, a summary in the message line; again clears it")
    func expertBar() throws {
        var s = try ViewsFixture.state(screen: .layer)
        let before = frame(s)
        let label = try #require(locate("e3  ", in: before))
        #expect(InspectorView.target(atX: label.x + 6, y: label.y, state: s) == .expert(3))
        s.leftClick(x: label.x + 6, y: label.y)
        #expect(s.selectedExpert == 3)
        #expect(s.message?.contains("e3: load 40.1%") == true, "\(s.message ?? "nil")")
        let after = frame(s)
        #expect(after.cell(x: label.x, y: label.y)?.style.reverse == true)
        #expect(before.cell(x: label.x, y: label.y)?.style.reverse == false)
        // The "fair" header line and the panel border select nothing.
        #expect(InspectorView.target(atX: label.x + 6, y: label.y - 4, state: s) == nil)
        #expect(InspectorView.target(atX: label.x - 1, y: label.y, state: s) == nil)
        s.leftClick(x: label.x + 6, y: label.y)
        #expect(s.selectedExpert == nil && s.message == nil)
    }

    @Test("a prior heatmap cell selects its component (row expert, column component), reversed in place")
    func priorCell() throws {
        var s = try ViewsFixture.state(screen: .layer)
        let header = try #require(locate("m1", in: frame(s), fromX: 50))
        let row = try #require(locate("e2", in: frame(s), fromX: 50))
        let target = InspectorView.target(atX: header.x, y: row.y, state: s)
        #expect(target == .component(2 * 3 + 1))
        s.leftClick(x: header.x, y: row.y)
        #expect(s.selectedComponent == 7 && s.selectedExpert == 2)
        #expect(s.message?.hasPrefix("layer 1 · k7 (e2, m1): prior 13.6%") == true, "\(s.message ?? "nil")")
        #expect(frame(s).cell(x: header.x, y: row.y)?.style.reverse == true)
        // The dead component says so.
        _ = s.update(.click(.component(6)))
        #expect(s.message?.hasSuffix("dead") == true)
        // Below the last expert row: nothing.
        #expect(InspectorView.target(atX: header.x, y: row.y + 2, state: s) == nil)
    }

    @Test("an overview heatmap cell selects layer and expert")
    func overviewCell() throws {
        var s = try ViewsFixture.state(screen: .overview)
        let header = try #require(locate("e2", in: frame(s)))
        let row = try #require(locate("L3", in: frame(s)))
        #expect(InspectorView.target(atX: header.x, y: row.y, state: s) == .layerExpert(layerIndex: 1, expert: 2))
        s.leftClick(x: header.x, y: row.y)
        #expect(s.layerIndex == 1 && s.layer == 3 && s.selectedExpert == 2)
        #expect(s.message?.hasPrefix("layer 3 · e2: load") == true)
        #expect(frame(s).cell(x: header.x, y: header.y)?.style.reverse == true)
    }

    @Test("a token moves the cursor; clicks off the text, on the latent screen or under help do nothing")
    func tokensAndNothing() throws {
        var s = try ViewsFixture.state(screen: .tokens)
        let word = try #require(locate("brown", in: frame(s)))
        s.leftClick(x: word.x + 2, y: word.y)
        #expect(s.cursor == 12)  // "brown" is tokens 10...14
        let cursor = s.cursor
        s.leftClick(x: 0, y: 5)
        #expect(s.cursor == cursor)
        s.screen = .latent
        #expect(InspectorView.target(atX: 30, y: 10, state: s) == nil)
        s.showHelp = true
        #expect(InspectorView.target(atX: 1, y: 0, state: s) == nil)
        // Too small: nothing is clickable.
        s.showHelp = false
        s.width = 30
        #expect(InspectorView.target(atX: 1, y: 0, state: s) == nil)
    }
}
