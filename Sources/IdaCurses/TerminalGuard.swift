@preconcurrency import CNCursesW
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
@preconcurrency import Darwin
#endif

/// Puts the terminal back (endwin) when the process ends while curses is active: on normal exit
/// (atexit), on SIGINT, SIGTERM, SIGHUP, SIGQUIT and on crashes (SIGSEGV, SIGBUS, SIGILL, SIGTRAP,
/// SIGFPE, SIGABRT). The handler only calls endwin (accepted practice for curses programs though
/// not formally async-signal-safe), reinstates the previous handler (the default, or the Swift
/// runtime's crash reporter) and raises the signal again.
enum TerminalGuard {
    /// The signals whose delivery restores the terminal.
    static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGABRT]

    /// Marks curses active and installs the handlers (once per activation).
    static func activate() {
        if !guardAtExitRegistered {
            guardAtExitRegistered = true
            atexit { TerminalGuard.restoreIfActive() }
        }
        for (slot, signal) in signals.enumerated() {
            var action = sigaction()
            #if canImport(Glibc)
            action.__sigaction_handler.sa_handler = terminalGuardHandler
            #else
            action.__sigaction_u.__sa_handler = terminalGuardHandler
            #endif
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(signal, &action, guardSavedActions + slot)
            if isIgnored(guardSavedActions[slot]) { sigaction(signal, guardSavedActions + slot, nil) }
        }
        guardActive = 1
    }

    /// Marks curses inactive and reinstates the handlers that were there before.
    static func deactivate() {
        guardActive = 0
        for (slot, signal) in signals.enumerated() { sigaction(signal, guardSavedActions + slot, nil) }
    }

    /// Calls endwin if curses is still active; safe to call more than once.
    static func restoreIfActive() {
        guard guardActive != 0 else { return }
        guardActive = 0
        endwin()
    }

    /// Whether a saved action ignores its signal (then the guard leaves it ignored).
    private static func isIgnored(_ action: sigaction) -> Bool {
        #if canImport(Glibc)
        let handler = action.__sigaction_handler.sa_handler
        #else
        let handler = action.__sigaction_u.__sa_handler
        #endif
        guard let handler else { return false }
        return unsafeBitCast(handler, to: Int.self) == 1 // SIG_IGN is ((void (*)(int)) 1)
    }
}

/// 1 while curses owns the terminal; read in the signal handler (a plain word, like sig_atomic_t).
nonisolated(unsafe) private var guardActive: Int32 = 0
/// Whether the atexit hook is registered.
nonisolated(unsafe) private var guardAtExitRegistered = false
/// The actions replaced by the guard, one slot per entry of `TerminalGuard.signals`; allocated
/// once so the handler touches no Swift collection.
nonisolated(unsafe) private let guardSavedActions: UnsafeMutablePointer<sigaction> = {
    let storage = UnsafeMutablePointer<sigaction>.allocate(capacity: TerminalGuard.signals.count)
    storage.initialize(repeating: sigaction(), count: TerminalGuard.signals.count)
    return storage
}()

/// The signal handler: endwin, previous handler back, signal delivered again.
private func terminalGuardHandler(_ signal: Int32) {
    if guardActive != 0 {
        guardActive = 0
        endwin()
    }
    let slot: Int
    switch signal {
    case SIGINT: slot = 0
    case SIGTERM: slot = 1
    case SIGHUP: slot = 2
    case SIGQUIT: slot = 3
    case SIGSEGV: slot = 4
    case SIGBUS: slot = 5
    case SIGILL: slot = 6
    case SIGTRAP: slot = 7
    case SIGFPE: slot = 8
    default: slot = 9
    }
    sigaction(signal, guardSavedActions + slot, nil)
    raise(signal)
}
