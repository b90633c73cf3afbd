/// Layout of the tab bar on the first row, shared by the view and mouse hit-testing.
public enum TabBar {
    /// Tab labels in order, e.g. " 1 Overview ".
    public static let labels: [(Screen, String)] = Screen.allCases.map { ($0, " \($0.rawValue) \($0.title) ") }

    /// The screen whose tab covers column `x`.
    public static func screen(at x: Int) -> Screen? {
        var start = 0
        for (s, label) in labels {
            if x >= start && x < start + label.count { return s }
            start += label.count
        }
        return nil
    }
}
