/// The prompt open in the footer and what has been typed into it; keys go to it until Enter or Escape.
public enum Prompt: Sendable, Equatable {
    /// `/` on the Tokens screen: text to find in the probe.
    case search(String)
    /// `/` on the overview, layer and latent screens: an expert ("e12") or a layer ("L7") to go to.
    case jump(String)
    /// `e` on the Tokens screen: text to run through the model of the shown snapshot.
    case text(String)

    /// What has been typed.
    public var input: String {
        switch self {
        case let .search(s), let .jump(s), let .text(s): return s
        }
    }

    /// The same prompt holding `input`.
    func with(_ input: String) -> Prompt {
        switch self {
        case .search: return .search(input)
        case .jump: return .jump(input)
        case .text: return .text(input)
        }
    }

    /// Whether typing `c` adds it: a jump takes no spaces ("e12", "L7"); typed text stops at
    /// `InspectorState.liveTextLimit` bytes.
    func accepts(_ c: Character) -> Bool {
        switch self {
        case .search: return true
        case .jump: return c != " "
        case let .text(s): return s.utf8.count + c.utf8.count <= InspectorState.liveTextLimit
        }
    }
}
