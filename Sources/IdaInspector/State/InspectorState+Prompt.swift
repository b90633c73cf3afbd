import IdaTerminal

extension InspectorState {
    /// A key while `prompt` is open: Enter submits it, Escape closes it, Backspace deletes, C-c
    /// quits, and characters the prompt accepts are typed (so `q` or `l` are text here, not keys).
    mutating func handlePromptKey(_ key: Key, prompt open: Prompt) -> [Effect] {
        switch key {
        case .escape:
            prompt = nil
        case .enter:
            prompt = nil
            return submit(open)
        case .backspace:
            var input = open.input
            if !input.isEmpty { input.removeLast() }
            prompt = open.with(input)
        case .control("c"):
            return [.quit]
        case let .character(c) where open.accepts(c):
            prompt = open.with(open.input + String(c))
        default:
            break
        }
        return []
    }

    /// What Enter does with the typed text: search the probe, go to an expert or layer, or run the
    /// text through the model.
    mutating func submit(_ prompt: Prompt) -> [Effect] {
        switch prompt {
        case let .search(text):
            searchQuery = text
            jumpToMatch(from: cursor)
            return []
        case let .jump(text):
            jump(to: text)
            return []
        case let .text(text):
            return routeText(text)
        }
    }
}
