/// The part of a long list that fits on screen: pages of `visible` items, the page holding `focus`
/// shown, so moving the selection pages the list and drawing and hit-testing agree on what is where.
struct ListWindow: Equatable {
    /// Index of the first item shown.
    var first: Int
    /// Items shown.
    var count: Int
    /// Items in the list.
    var total: Int

    /// The page of `total` items, `visible` per page, that holds item `focus` (the last page is
    /// filled from the end so no rows go unused).
    init(total: Int, visible: Int, focus: Int) {
        self.total = max(0, total)
        count = min(self.total, max(0, visible))
        guard count > 0 else { first = 0; return }
        let page = min(max(focus, 0), self.total - 1) / count
        first = min(page * count, self.total - count)
    }

    /// Positions shown.
    var range: Range<Int> { first..<(first + count) }

    /// Whether some items are not shown.
    var isPartial: Bool { count < total }

    /// "layers 8-39 of 48 ▲▼" with arrows for the hidden ends ("▲" above, "▼" below), or "" when all fit.
    func label(_ noun: String, unicode: Bool) -> String {
        guard isPartial else { return "" }
        guard count > 0 else { return "\(total) \(noun)" }
        let up = first > 0 ? (unicode ? "▲" : "^") : ""
        let down = first + count < total ? (unicode ? "▼" : "v") : ""
        let span = count == 1 ? "\(first)" : "\(first)-\(first + count - 1)"
        return "\(noun) \(span) of \(total) " + up + down
    }
}
