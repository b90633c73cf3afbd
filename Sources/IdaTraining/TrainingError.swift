/// Problems a training run can meet; one line each for the user, with a hint where one helps.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    /// No corpus files were found.
    case corpusMissing(paths: [String])
    /// A corpus path could not be read.
    case unreadable(path: String, reason: String)
    /// The corpus has too little text to train or validate on.
    case corpusTooSmall(String)
    /// A run directory problem (locked, not a run, unreadable, ...).
    case runDirectory(path: String, problem: String)
    /// A request that cannot be carried out (for example routing no text).
    case invalidOption(String)
    /// A checkpoint that holds routers only (no `idamoe.model`): its model cannot run text.
    case routersOnly(path: String)
    /// The loss or a gradient became non-finite.
    case nonFinite(step: Int, what: String)

    /// One line for the user.
    public var description: String {
        switch self {
        case let .corpusMissing(paths):
            return "no corpus text found at \(paths.joined(separator: ", ")); install Debian's corpus with "
                + "'apt-get install fortunes' or point --corpus at files or folders of UTF-8 text"
        case let .unreadable(path, reason):
            return "\(path): \(reason)"
        case let .corpusTooSmall(message):
            return message
        case let .runDirectory(path, problem):
            return "\(path): \(problem)"
        case let .invalidOption(message):
            return message
        case let .routersOnly(path):
            return "\(path): holds routers only (no idamoe.model metadata); live text needs a full model snapshot written by idamoe train"
        case let .nonFinite(step, what):
            return "step \(step): \(what) is not finite; lower the learning rate or check the data"
        }
    }
}
