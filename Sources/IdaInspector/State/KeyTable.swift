import IdaTerminal

/// One row of the key table: the keys, what they do, and the help text. The `?` screen and the footer
/// hints are generated from this table, and so is the handler.
public struct KeyBinding: Sendable, Equatable {
    /// The keys, as the terminal reports them (shown by their stable names: "q", "Tab", "Left", "C-c").
    public var keys: [Key]
    /// The action.
    public var action: Action
    /// Help text.
    public var help: String
    /// Screens where the binding applies (nil: everywhere).
    public var screens: [Screen]?
    /// Shown in the footer of the screens it applies to.
    public var footer: Bool
}

/// The inspector's key bindings.
public enum KeyTable {
    /// Every binding, in the order the help screen lists them.
    public static let bindings: [KeyBinding] = [
        KeyBinding(keys: [.character("1")], action: .show(.overview), help: "overview", screens: nil, footer: false),
        KeyBinding(keys: [.character("2")], action: .show(.layer), help: "layer", screens: nil, footer: false),
        KeyBinding(keys: [.character("3")], action: .show(.latent), help: "latent space", screens: nil, footer: false),
        KeyBinding(keys: [.character("4")], action: .show(.tokens), help: "tokens", screens: nil, footer: false),
        KeyBinding(keys: [.character("5")], action: .show(.timeline), help: "timeline", screens: nil, footer: false),
        KeyBinding(keys: [.tab], action: .cycleScreen(1), help: "next screen", screens: nil, footer: true),
        KeyBinding(keys: [.backTab], action: .cycleScreen(-1), help: "previous screen", screens: nil, footer: false),
        KeyBinding(keys: [.character("]")], action: .changeLayer(1), help: "next MoE layer", screens: nil, footer: true),
        KeyBinding(keys: [.character("[")], action: .changeLayer(-1), help: "previous MoE layer", screens: nil, footer: true),
        KeyBinding(keys: [.right, .character("l")], action: .moveCursor(1), help: "next token", screens: [.tokens], footer: true),
        KeyBinding(keys: [.left, .character("h")], action: .moveCursor(-1), help: "previous token", screens: [.tokens], footer: true),
        KeyBinding(keys: [.character("w")], action: .moveWord(1), help: "next word", screens: [.tokens], footer: true),
        KeyBinding(keys: [.character("b")], action: .moveWord(-1), help: "previous word", screens: [.tokens], footer: false),
        KeyBinding(keys: [.down, .character("j")], action: .moveLine(1), help: "line down", screens: [.tokens], footer: false),
        KeyBinding(keys: [.up, .character("k")], action: .moveLine(-1), help: "line up", screens: [.tokens], footer: false),
        KeyBinding(keys: [.down, .character("j")], action: .moveLayerRow(1), help: "next layer row", screens: [.overview], footer: false),
        KeyBinding(keys: [.up, .character("k")], action: .moveLayerRow(-1), help: "previous layer row", screens: [.overview], footer: false),
        KeyBinding(keys: [.down, .character("j")], action: .moveExpert(1), help: "next expert", screens: [.layer], footer: false),
        KeyBinding(keys: [.up, .character("k")], action: .moveExpert(-1), help: "previous expert", screens: [.layer], footer: false),
        KeyBinding(keys: [.character(".")], action: .moveExpert(1), help: "next expert", screens: [.overview, .layer, .latent], footer: false),
        KeyBinding(keys: [.character(",")], action: .moveExpert(-1), help: "previous expert", screens: [.overview, .layer, .latent], footer: false),
        KeyBinding(keys: [.pageDown], action: .page(1), help: "page down (layers / experts)", screens: [.overview, .layer], footer: false),
        KeyBinding(keys: [.pageUp], action: .page(-1), help: "page up (layers / experts)", screens: [.overview, .layer], footer: false),
        KeyBinding(keys: [.character("/")], action: .beginJump, help: "go to expert (e12) or layer (L7)", screens: [.overview, .layer, .latent], footer: false),
        KeyBinding(keys: [.character("o")], action: .cycleOrder, help: "order: index / expert load / layer probe CV", screens: [.overview, .layer], footer: false),
        KeyBinding(keys: [.character("/")], action: .beginSearch, help: "search the probe text", screens: [.tokens], footer: true),
        KeyBinding(keys: [.character("e")], action: .beginTextEntry, help: "route typed text", screens: [.tokens], footer: true),
        KeyBinding(keys: [.character("n")], action: .nextMatch, help: "next match", screens: [.tokens], footer: false),
        KeyBinding(keys: [.character("+"), .character("=")], action: .zoom(1.5), help: "zoom in", screens: [.latent], footer: true),
        KeyBinding(keys: [.character("-")], action: .zoom(1 / 1.5), help: "zoom out", screens: [.latent], footer: true),
        KeyBinding(keys: [.left, .character("h")], action: .pan(-0.1, 0), help: "pan left", screens: [.latent], footer: false),
        KeyBinding(keys: [.right, .character("l")], action: .pan(0.1, 0), help: "pan right", screens: [.latent], footer: false),
        KeyBinding(keys: [.up, .character("k")], action: .pan(0, 0.1), help: "pan up", screens: [.latent], footer: false),
        KeyBinding(keys: [.down, .character("j")], action: .pan(0, -0.1), help: "pan down", screens: [.latent], footer: false),
        KeyBinding(keys: [.character("0")], action: .resetView, help: "reset zoom and pan", screens: [.latent], footer: false),
        KeyBinding(keys: [.character("d")], action: .toggleColoring, help: "colour by expert / domain", screens: [.latent, .tokens], footer: true),
        KeyBinding(keys: [.character("t")], action: .toggleTakes, help: "tokens per expert / reactivation", screens: [.layer], footer: true),
        KeyBinding(keys: [.character("g")], action: .cycleRanks, help: "expert parallelism: off, 2, 4, ... ranks", screens: [.overview], footer: false),
        KeyBinding(keys: [.character("v")], action: .toggleValues, help: "show values", screens: [.overview, .layer], footer: true),
        KeyBinding(keys: [.left, .character("h")], action: .stepSnapshot(-1), help: "older snapshot", screens: [.timeline, .overview, .layer], footer: true),
        KeyBinding(keys: [.right, .character("l")], action: .stepSnapshot(1), help: "newer snapshot", screens: [.timeline, .overview, .layer], footer: true),
        KeyBinding(keys: [.character(" ")], action: .toggleFollow, help: "pause / follow the live run", screens: nil, footer: true),
        KeyBinding(keys: [.character("c")], action: .pinComparison, help: "compare with this step (again: unpin)", screens: nil, footer: false),
        KeyBinding(keys: [.character("|")], action: .toggleSplit, help: "split screens A | B", screens: nil, footer: false),
        KeyBinding(keys: [.character("?"), .function(1)], action: .toggleHelp, help: "help", screens: nil, footer: true),
        KeyBinding(keys: [.character("q"), .control("c")], action: .quit, help: "quit", screens: nil, footer: true),
    ]

    /// What the mouse does, for the help screen (the views say what a click landed on: `ClickTarget`).
    public static let mouse: [(gesture: String, help: String, screens: [Screen])] = [
        ("click", "select a tab", []),
        ("click", "move the cursor to a token", [.tokens]),
        ("click", "select an expert or a component", [.overview, .layer]),
        ("wheel", "zoom", [.latent]),
        ("wheel", "next / previous layer row", [.overview]),
        ("wheel", "next / previous expert", [.layer]),
    ]

    /// The action for a key on a screen: screen-specific bindings win over global ones.
    public static func action(for key: Key, on screen: Screen) -> Action? {
        if let specific = bindings.first(where: { $0.keys.contains(key) && ($0.screens?.contains(screen) ?? false) }) {
            return specific.action
        }
        return bindings.first(where: { $0.keys.contains(key) && $0.screens == nil })?.action
    }

    /// "key help" pairs for the footer of a screen.
    public static func footer(for screen: Screen) -> [(String, String)] {
        bindings.filter { $0.footer && ($0.screens?.contains(screen) ?? true) }
            .map { (displayName($0.keys), $0.help) }
    }

    /// Keys as shown to people: their names, "Left/h", but "space" in lower case.
    public static func displayName(_ keys: [Key]) -> String {
        keys.map { $0 == .character(" ") ? "space" : $0.name }.joined(separator: "/")
    }
}
