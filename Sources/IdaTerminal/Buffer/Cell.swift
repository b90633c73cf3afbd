/// One terminal cell: a grapheme and its style. A wide grapheme fills its cell and the
/// continuation cell to its right, whose text is empty.
public struct Cell: Hashable, Sendable {
    /// The grapheme drawn here; empty for the right half of a wide grapheme.
    public var text: String
    /// Colours and attributes.
    public var style: Style

    /// Creates a cell holding one grapheme.
    public init(_ character: Character, style: Style = .plain) {
        self.text = String(character)
        self.style = style
    }

    /// Creates a cell from raw text (one grapheme, or empty for a continuation).
    public init(text: String, style: Style = .plain) {
        self.text = text
        self.style = style
    }

    /// A space in the default style.
    public static let blank = Cell(" ")

    /// The right half of a wide grapheme.
    public static func continuation(style: Style) -> Cell {
        Cell(text: "", style: style)
    }

    /// Whether this cell is the right half of a wide grapheme (drawn by its left neighbour).
    public var isContinuation: Bool { text.isEmpty }
}
