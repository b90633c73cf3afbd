import IdaFormats
import IdaTerminal
import Testing
@testable import IdaInspector

@Suite("Numbers read from event lines")
struct LossFieldTests {
    @Test("a loss that is not a number (a string, true, an object, absent) is skipped, not alerted as NaN; null still is")
    func nonNumericLoss() {
        let lines = [
            #"{"v":1,"step":1,"time":1,"kind":"step","loss":2.5,"cv_mean":0.5}"#,
            #"{"v":1,"step":2,"time":2,"kind":"step","loss":"abc","cv_mean":0.5}"#,
            #"{"v":1,"step":3,"time":3,"kind":"step","loss":true,"cv_mean":0.5}"#,
            #"{"v":1,"step":4,"time":4,"kind":"step","loss":{"x":1},"cv_mean":0.5}"#,
            #"{"v":1,"step":5,"time":5,"kind":"step","cv_mean":0.5}"#,
        ]
        var state = InspectorState(title: "run", live: true)
        state.history = ViewsFixture.history(lines)
        let alerts = Alert.all(for: state).map(\.text)
        #expect(!alerts.contains { $0.contains("loss") }, "\(alerts)")
        var buffer = ScreenBuffer(width: 120, height: 40)
        state.width = 120
        state.height = 40
        InspectorView.render(state, mode: .full, into: &buffer)
        #expect(buffer.text().contains("loss 2.500 nats/byte"), "\(buffer.text())")

        // The trainer writes a non-finite loss as null: that is still an error.
        state.history = ViewsFixture.history(lines + [#"{"v":1,"step":6,"time":6,"kind":"step","loss":null,"cv_mean":0.5}"#])
        #expect(Alert.all(for: state).contains { $0.text.contains("loss is nan at step 6") }, "\(Alert.all(for: state).map(\.text))")
    }
}
