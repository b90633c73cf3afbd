import IdaTerminal
import Testing
@testable import IdaInspector

/// A backend that reports a stop signal after a few input waits.
final class SignalledBackend: InspectorBackend {
    var waits = 0
    let signalAfter: Int
    init(signalAfter: Int) { self.signalAfter = signalAfter }
    var cellSize: (width: Int, height: Int) { (80, 24) }
    var displayMode: DisplayMode { .full }
    func show(_ buffer: ScreenBuffer) {}
    func nextEvent(milliseconds: Int) -> TerminalEvent? {
        waits += 1
        return nil
    }
    var stopSignal: Int32? { waits >= signalAfter ? 15 : nil }
}

@Suite("The interactive loop and stop signals")
struct StopSignalTests {
    @Test("a stop signal ends the loop with its number, so the command can give the terminal back and exit 128 + signal")
    func loopEnds() {
        let app = InspectorApp(source: .checkpoint("nowhere.safetensors", probe: "nowhere.probe"), probe: nil)
        let backend = SignalledBackend(signalAfter: 2)
        #expect(app.run(on: backend) == .signal(15))
        #expect(backend.waits == 2)
    }
}
