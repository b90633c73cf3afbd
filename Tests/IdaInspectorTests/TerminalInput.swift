import IdaTerminal
@testable import IdaInspector

extension InspectorState {
    /// `input` as the running inspector hands it over: resolved against what the views draw (a left
    /// press becomes what it landed on), the views' geometry first for a key, then `update`.
    @discardableResult
    mutating func receive(_ input: TerminalEvent) -> [Effect] {
        guard let event = InspectorEvent(input, on: self) else { return [] }
        return InspectorApp.update(&self, with: event)
    }

    /// A left press at (x, y), as the terminal reports it.
    @discardableResult
    mutating func leftClick(x: Int, y: Int) -> [Effect] {
        receive(.mouse(MouseEvent(x: x, y: y, button: .left, action: .pressed)))
    }

    /// One notch of the wheel, as the terminal reports it.
    @discardableResult
    mutating func wheel(up: Bool) -> [Effect] {
        receive(.mouse(MouseEvent(x: 10, y: 10, button: up ? .scrollUp : .scrollDown, action: .pressed)))
    }
}
