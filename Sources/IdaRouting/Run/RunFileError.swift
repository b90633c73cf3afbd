import Foundation
import IdaFormats

/// A setting of `ModelConfig` or `TrainingOptions` that does not make sense (`key` is the field's
/// name, as in run.json; the command line maps it to its flag).
public enum SettingError: Error, Equatable, CustomStringConvertible {
    /// `key` has a value that `problem` explains.
    case invalidSetting(key: String, problem: String)

    /// One line for the user.
    public var description: String {
        switch self {
        case let .invalidSetting(key, problem): return "\(key) \(problem)"
        }
    }
}

/// Problems reading a run directory's run.json.
public enum RunFileError: Error, Equatable, CustomStringConvertible {
    /// The directory holds no run.json.
    case notARun(path: String)
    /// run.json is unreadable or is not a valid manifest; `problem` says which field.
    case badManifest(path: String, problem: String)
    /// Another writer (`idamoe train`, the Python `RunWriter`) holds the run's lock.
    case writerActive(path: String)
    /// The run's lock could not be taken (the directory cannot be opened, say).
    case cannotLock(path: String, errno: Int32)

    /// One line for the user.
    public var description: String {
        switch self {
        case let .notARun(path): return "\(UntrustedText.shown(path)): is not a run directory (no run.json)"
        case let .badManifest(path, problem): return "\(UntrustedText.shown(path)): \(problem)"
        case let .writerActive(path):
            return "\(UntrustedText.shown(path)): another writer holds this run (idamoe train or a RunWriter); stop it first"
        case let .cannotLock(path, code):
            return "\(UntrustedText.shown(path)): cannot take the run's lock (\(String(cString: strerror(code))))"
        }
    }
}
