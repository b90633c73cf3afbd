/// Input from the terminal, as the backend reports it to the inspector's `update`.
public enum TerminalEvent: Hashable, Sendable {
    /// A key press.
    case key(Key)
    /// A mouse press, release or wheel turn.
    case mouse(MouseEvent)
    /// The terminal now has this many columns and rows.
    case resize(cols: Int, rows: Int)
}
