/// Why a JSON document was rejected; `offset` is the byte offset into the parsed bytes.
public enum JSONParseError: Error, Equatable, CustomStringConvertible {
    /// The bytes do not follow the JSON grammar (or a string is not valid UTF-8).
    case syntax(offset: Int, message: String)
    /// An object repeats a key; `depth` is 1 for the top-level object.
    case duplicateKey(offset: Int, key: String, depth: Int)
    /// Arrays and objects are nested deeper than `limit`.
    case tooDeep(offset: Int, limit: Int)

    /// Byte offset of the problem in the parsed bytes.
    public var offset: Int {
        switch self {
        case .syntax(let offset, _), .duplicateKey(let offset, _, _), .tooDeep(let offset, _):
            return offset
        }
    }

    /// The problem without its offset.
    public var reason: String {
        switch self {
        case .syntax(_, let message): return message
        case .duplicateKey(_, let key, _): return "duplicate key \(ErrorText.quoted(key))"
        case .tooDeep(_, let limit): return "nesting deeper than \(limit) levels"
        }
    }

    /// One line: the offset, then the reason.
    public var description: String { "byte \(offset): \(reason)" }
}
