/// A key press, independent of curses. Every key has a stable name ("q", "Tab", "C-c", "F1",
/// "PgDn") used by key-binding tables, the help screen and headless `--keys` scripts.
public enum Key: Hashable, Sendable {
    /// A printable character (including space and non-ASCII text).
    case character(Character)
    /// Control plus a lowercase letter (a-z), for control codes that are not Tab, Enter or Backspace.
    case control(Character)
    /// Function key F1-F12 (and beyond, if the terminal sends them).
    case function(Int)
    /// Arrow up.
    case up
    /// Arrow down.
    case down
    /// Arrow left.
    case left
    /// Arrow right.
    case right
    /// Page up.
    case pageUp
    /// Page down.
    case pageDown
    /// Home.
    case home
    /// End.
    case end
    /// Tab.
    case tab
    /// Shift-Tab.
    case backTab
    /// Enter or Return.
    case enter
    /// Escape.
    case escape
    /// Backspace.
    case backspace
    /// Delete (forward).
    case delete
    /// Insert.
    case insert

    /// Named keys and their canonical names, in the order the help screen lists them.
    static let namedKeys: [(Key, String)] = [
        (.up, "Up"), (.down, "Down"), (.left, "Left"), (.right, "Right"),
        (.pageUp, "PgUp"), (.pageDown, "PgDn"), (.home, "Home"), (.end, "End"),
        (.tab, "Tab"), (.backTab, "BackTab"), (.enter, "Enter"), (.escape, "Escape"),
        (.backspace, "Backspace"), (.delete, "Delete"), (.insert, "Insert"),
    ]

    /// Other accepted spellings (matched case-insensitively) of named keys.
    static let aliases: [String: Key] = [
        "pageup": .pageUp, "pagedown": .pageDown, "pgup": .pageUp, "pgdn": .pageDown,
        "esc": .escape, "return": .enter, "ret": .enter, "bs": .backspace,
        "del": .delete, "ins": .insert, "s-tab": .backTab, "shift-tab": .backTab,
    ]

    /// The key's stable name: the character itself, "Space", "C-x", "F5" or a named key.
    public var name: String {
        switch self {
        case .character(" "): return "Space"
        case .character(let c): return String(c)
        case .control(let c): return "C-" + String(c)
        case .function(let n): return "F" + String(n)
        default:
            return Key.namedKeys.first { $0.0 == self }?.1 ?? "?"
        }
    }
}

extension Key: CustomStringConvertible {
    /// The key's stable name.
    public var description: String { name }
}
