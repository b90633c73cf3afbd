/// Shape and value problems found when numerics objects are built from outside data.
public enum NumericsError: Error, Equatable, CustomStringConvertible {
    /// A parameter's shape does not match what the router needs.
    case shapeMismatch(what: String, expected: [Int], found: [Int])
    /// A configuration value is out of range.
    case invalidConfig(String)

    /// One line, naming what is wrong.
    public var description: String {
        switch self {
        case let .shapeMismatch(what, expected, found):
            return "\(what) has shape \(found), expected \(expected)"
        case let .invalidConfig(message):
            return message
        }
    }
}
