import IdaTerminal
import Testing
@testable import IdaInspector

/// Typed text routed in place of the probe (`e` on the tokens screen).
@Suite("Inspector live text")
struct LiveTextTests {
    @Test("e opens a prompt; Enter asks for the text to be routed through the selected step")
    func prompt() throws {
        var s = try ViewsFixture.state(screen: .tokens)
        #expect(s.update(.key(.character("e"))) == [])
        #expect(s.prompt == .text(""))
        for key in try Key.sequence("h i Space y o u Backspace") { _ = s.update(.key(key)) }
        #expect(s.prompt == .text("hi yo"))
        // Keys go to the prompt, not the key table: q does not quit, 1 does not switch screens.
        #expect(s.update(.key(.character("q"))) == [] && s.screen == .tokens)
        _ = s.update(.key(.backspace))
        #expect(s.update(.key(.enter)) == [.routeText("hi yo", step: 300)])
        #expect(s.prompt == nil)
        _ = s.update(.key(.character("e")))
        #expect(s.update(.key(.escape)) == [] && s.prompt == nil)
    }

    @Test("the routed text replaces the probe until Escape; probe analyses meanwhile are kept aside")
    func swap() throws {
        var s = try ViewsFixture.state(screen: .tokens)
        let probeTokens = s.tokens
        let probeAnalysis = try #require(s.analysis)
        let textAnalysis = try ViewsFixture.analysis(softmax: true)
        _ = s.update(.textAnalyzed(text: "ok", step: 300, result: .success(textAnalysis)))
        #expect(s.tokens == [0x6F, 0x6B] && s.domains == nil && s.cursor == 0)
        #expect(s.analysis?.router == .softmax)
        #expect(s.liveText?.probeTokens == probeTokens)
        // A snapshot analysis finishing now does not overwrite the text's.
        _ = s.update(.analyzed(step: 300, result: .success(probeAnalysis)))
        #expect(s.analysis?.router == .softmax)
        var buffer = ScreenBuffer(width: 120, height: 40)
        InspectorView.render(s, mode: .full, into: &buffer)
        #expect(buffer.text().contains("live text @ step 300"))
        _ = s.update(.key(.escape))
        #expect(s.liveText == nil && s.tokens == probeTokens && s.analysis?.router == .ida)
        #expect(s.domains != nil && s.cursor == 10)
    }

    @Test("a failure is reported in the message line and leaves the probe in place")
    func failure() throws {
        var s = try ViewsFixture.state(screen: .tokens)
        let tokens = s.tokens
        _ = s.update(.textAnalyzed(text: "x", step: 300, result: .failure(AnalysisFailure("c.safetensors: holds routers only"))))
        #expect(s.message == "c.safetensors: holds routers only" && s.tokens == tokens && s.liveText == nil)
    }
}
