import Foundation

/// The cores this process may run on: the one count behind "every core" (`--threads 0`, the default
/// worker count of routing and training, and the machine's description).
public enum Cores {
    /// Active processors available to the process, at least 1.
    public static var available: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }
}
