/// Why an event log could not be read (a missing file is not an error: it has no events yet).
public enum EventLogError: Error, CustomStringConvertible, Equatable {
    /// A system call failed; `operation` names it ("open", "fstat", "read").
    case io(path: String, operation: String, errno: Int32)
    /// The path names a FIFO, device, socket or directory (`kind` says which).
    case notRegular(path: String, kind: String)

    /// One line: the path, then what failed.
    public var description: String {
        switch self {
        case .io(let path, let operation, let code):
            return "\(ErrorText.clipped(path)): \(operation) failed: \(ErrorText.systemMessage(code)) (errno \(code))"
        case .notRegular(let path, let kind):
            return "\(ErrorText.clipped(path)): is \(kind), not a regular file"
        }
    }
}
