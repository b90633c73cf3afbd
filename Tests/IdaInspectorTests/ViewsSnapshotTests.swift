import IdaTerminal
import IdaRouting
import Testing
@testable import IdaInspector

@Suite("Inspector views: snapshots")
struct ViewsSnapshotTests {
    static let sizes = [(120, 40), (80, 24)]
    static let asciiMono = DisplayMode.plain

    @Test("every screen at 120x40 and 80x24", arguments: Screen.allCases)
    func screens(screen: Screen) throws {
        let state = try ViewsFixture.state(screen: screen)
        expectViewSnapshot(ViewsFixture.frames(state, sizes: Self.sizes), named: "screen-\(screen.title.lowercased())")
    }

    @Test("every screen at the minimum size 60x16", arguments: Screen.allCases)
    func minimum(screen: Screen) throws {
        let state = try ViewsFixture.state(screen: screen)
        expectViewSnapshot(ViewsFixture.frames(state, sizes: [(60, 16)]), named: "minimum-\(screen.title.lowercased())")
    }

    @Test("ASCII glyphs without colour", arguments: Screen.allCases)
    func asciiMonochrome(screen: Screen) throws {
        let state = try ViewsFixture.state(screen: screen)
        expectViewSnapshot(ViewsFixture.frames(state, sizes: [(80, 24)], mode: Self.asciiMono),
                           named: "ascii-mono-\(screen.title.lowercased())")
    }

    @Test("eight colours keep glyphs where 256 colours use backgrounds")
    func eightColours() throws {
        let mode = DisplayMode(colors: .eight, glyphs: .unicode)
        var state = try ViewsFixture.state(screen: .overview)
        var frames = ViewsFixture.frames(state, sizes: [(80, 24)], mode: mode)
        state.screen = .layer
        frames += ViewsFixture.frames(state, sizes: [(80, 24)], mode: mode)
        expectViewSnapshot(frames, named: "eight-overview-layer")
    }

    @Test("values on heatmaps (v)")
    func values() throws {
        var state = try ViewsFixture.state(screen: .overview)
        state.showValues = true
        var frames = ViewsFixture.frames(state, sizes: [(120, 40)])
        state.screen = .layer
        frames += ViewsFixture.frames(state, sizes: [(120, 40)])
        expectViewSnapshot(frames, named: "values-overview-layer")
    }

    @Test("help overlay at 120x40, 80x24 and 60x16")
    func help() throws {
        var state = try ViewsFixture.state(screen: .tokens)
        state.showHelp = true
        expectViewSnapshot(ViewsFixture.frames(state, sizes: Self.sizes + [(60, 16)]), named: "help")
    }

    @Test("too small: 0x0, 1x1, 20x3 and 59x15 show only the size message")
    func tooSmall() throws {
        let state = try ViewsFixture.state(screen: .latent)
        expectViewSnapshot(ViewsFixture.frames(state, sizes: [(0, 0), (1, 1), (20, 3), (59, 15)]), named: "too-small")
    }

    @Test("softmax router: load and routing shown, mixture panels explain their absence")
    func softmax() throws {
        var state = try ViewsFixture.state(screen: .layer, softmax: true)
        var frames: [(String, ScreenBuffer)] = []
        for screen in [Screen.overview, .layer, .latent, .tokens] {
            state.screen = screen
            frames += ViewsFixture.frames(state, sizes: [(80, 24)])
        }
        expectViewSnapshot(frames, named: "softmax")
    }

    @Test("before the first snapshot: placeholders, training-log figures where there are some")
    func waiting() throws {
        var state = try ViewsFixture.state(screen: .overview)
        state.analysis = nil
        state.analyzing = 300
        var frames: [(String, ScreenBuffer)] = []
        for screen in Screen.allCases {
            state.screen = screen
            frames += ViewsFixture.frames(state, sizes: [(80, 24)])
        }
        var empty = InspectorState(title: "runs/new", live: true)
        empty.writer = .live
        frames += ViewsFixture.frames(empty, sizes: [(80, 24)])
        // Its trainer gone before the first step: stopped (in one word where the tab bar is full).
        empty.writer = RunLock.Writer.none
        empty.screen = .timeline
        frames += ViewsFixture.frames(empty, sizes: [(80, 24)])
        expectViewSnapshot(frames, named: "waiting")
    }

    @Test("footer: search prompt, message, paused and pinned, colour by domain, zoomed latent view")
    func variants() throws {
        var state = try ViewsFixture.state(screen: .tokens)
        state.prompt = .search("jum")
        var frames = ViewsFixture.frames(state, sizes: [(80, 24)])
        state.prompt = nil
        state.cursor = 250
        frames += ViewsFixture.frames(state, sizes: [(60, 16)])
        state.searchQuery = "box"
        state.cursor = 60
        state.colorByDomain = true
        state.message = "pinned step 200 for comparison"
        frames += ViewsFixture.frames(state, sizes: [(120, 40)])
        state.message = nil
        state.screen = .latent
        state.zoom = 2.25
        state.pan = (0.1, -0.05)
        state.following = false
        state.pinnedStep = 200
        frames += ViewsFixture.frames(state, sizes: [(120, 40)])
        state.screen = .timeline
        state.selectedStep = 200
        frames += ViewsFixture.frames(state, sizes: [(80, 24)])
        expectViewSnapshot(frames, named: "variants")
    }
}
