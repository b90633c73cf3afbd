/// The mouse button (or wheel direction) of a mouse event.
public enum MouseButton: String, Hashable, Sendable, CaseIterable {
    /// Primary button.
    case left
    /// Secondary button.
    case right
    /// Middle button (wheel click).
    case middle
    /// Wheel turned away from the user.
    case scrollUp
    /// Wheel turned towards the user.
    case scrollDown
}

/// Whether a button went down or up (wheel events are always presses).
public enum MouseAction: String, Hashable, Sendable {
    /// Button pressed.
    case pressed
    /// Button released.
    case released
}

/// A mouse event at a cell of the screen.
public struct MouseEvent: Hashable, Sendable {
    /// Column, 0 at the left.
    public var x: Int
    /// Row, 0 at the top.
    public var y: Int
    /// The button or wheel direction.
    public var button: MouseButton
    /// Press or release.
    public var action: MouseAction

    /// Creates a mouse event.
    public init(x: Int, y: Int, button: MouseButton, action: MouseAction) {
        self.x = x
        self.y = y
        self.button = button
        self.action = action
    }
}
