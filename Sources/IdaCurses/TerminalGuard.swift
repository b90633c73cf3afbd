@preconcurrency import CNCursesW
import Synchronization
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
@preconcurrency import Darwin
#endif

/// Gives the terminal back when the process is told to stop or crashes while curses owns it.
///
/// - SIGINT, SIGTERM, SIGHUP and SIGQUIT ask the program to stop: the handler records the signal
///   (`pendingSignal`) for the input loop, which wakes within its input wait, restores the terminal
///   with endwin and exits with 128 + signal. Should the loop not answer (a second such signal, or
///   `patience` seconds on an alarm), the handler restores the terminal itself and calls `_exit`.
/// - SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE and SIGABRT: the handler restores the terminal, puts
///   back the handler that was there (the default, or the Swift runtime's crash reporter) and raises
///   the signal again, so a real crash still reports.
///
/// The handlers call only async-signal-safe functions: an atomic store, `alarm`, `tcsetattr` with the
/// terminal modes saved before curses started, `write` of the reset sequences the terminal's terminfo
/// entry names (leave the alternate screen and keypad mode, show the cursor, plain attributes, mouse
/// reporting off; prepared by `CursesTerminal` once curses is up), `sigaction`, `raise` and `_exit`.
///
/// The Swift runtime's backtracer installs its handlers (SIGQUIT among them) when the process starts,
/// only where a signal still has its default action; `activate` replaces them with sigaction while
/// curses is active and `deactivate` puts them back.
enum TerminalGuard {
    /// Signals that ask the program to stop.
    static let stopSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]
    /// Signals of a crash.
    static let crashSignals: [Int32] = [SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGABRT]
    /// Every signal the guard handles (their saved actions sit in this order), and SIGALRM for patience.
    static let signals: [Int32] = stopSignals + crashSignals + [SIGALRM]
    /// Seconds the input loop has to answer a stop signal before the handler restores the terminal itself.
    static let patience: UInt32 = 2

    /// Saves the terminal's modes, marks curses active and installs the handlers (once per
    /// activation). Call before `newterm`, so ncurses leaves SIGINT and SIGTERM to the guard.
    static func activate() {
        if !guardAtExitRegistered {
            guardAtExitRegistered = true
            atexit { TerminalGuard.restoreIfActive() }
        }
        // Touch every global the handlers use now: lazy initialisation is not async-signal-safe.
        guardPending.store(0, ordering: .relaxed)
        guardActive.store(0, ordering: .relaxed)
        guardResetCount = 0
        guardHasModes = tcgetattr(STDIN_FILENO, guardModes) == 0 ? 1 : 0
        for (slot, signal) in signals.enumerated() {
            var action = sigaction()
            let handler: @convention(c) (Int32) -> Void
            if signal == SIGALRM {
                handler = patienceHandler
            } else if stopSignals.contains(signal) {
                handler = stopHandler
            } else {
                handler = crashHandler
            }
            #if canImport(Glibc)
            action.__sigaction_handler.sa_handler = handler
            #else
            action.__sigaction_u.__sa_handler = handler
            #endif
            sigemptyset(&action.sa_mask)
            // No SA_RESTART: a stop signal interrupts the input wait. SA_ONSTACK: a stack overflow's
            // SIGSEGV runs on the alternate stack the Swift runtime set up, if any.
            action.sa_flags = SA_ONSTACK
            sigaction(signal, &action, guardSavedActions + slot)
            if isIgnored(guardSavedActions[slot]) { sigaction(signal, guardSavedActions + slot, nil) }
        }
        guardActive.store(1, ordering: .sequentiallyConsistent)
    }

    /// The bytes that give the terminal back without curses (see the type's summary); set once
    /// curses is up and before anything is drawn.
    static func prepareReset(_ bytes: [UInt8]) {
        let count = min(bytes.count, guardResetCapacity)
        for i in 0..<count { guardResetBytes[i] = bytes[i] }
        guardResetCount = count
    }

    /// Marks curses inactive and reinstates the handlers that were there before.
    static func deactivate() {
        alarm(0)
        guardActive.store(0, ordering: .sequentiallyConsistent)
        for (slot, signal) in signals.enumerated() { sigaction(signal, guardSavedActions + slot, nil) }
    }

    /// Calls endwin if curses is still active; safe to call more than once.
    static func restoreIfActive() {
        guard guardActive.exchange(0, ordering: .sequentiallyConsistent) != 0 else { return }
        endwin()
    }

    /// The stop signal received while curses was active, not yet answered (nil: none).
    static var pendingSignal: Int32? {
        let signal = guardPending.load(ordering: .sequentiallyConsistent)
        return signal == 0 ? nil : signal
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

/// 1 while curses owns the terminal.
private let guardActive = Atomic<Int32>(0)
/// The stop signal waiting for the input loop (0: none).
private let guardPending = Atomic<Int32>(0)
/// Whether the atexit hook is registered.
nonisolated(unsafe) private var guardAtExitRegistered = false
/// The actions replaced by the guard, one slot per entry of `TerminalGuard.signals`; allocated
/// once so the handlers touch no Swift collection.
nonisolated(unsafe) private let guardSavedActions: UnsafeMutablePointer<sigaction> = {
    let storage = UnsafeMutablePointer<sigaction>.allocate(capacity: TerminalGuard.signals.count)
    storage.initialize(repeating: sigaction(), count: TerminalGuard.signals.count)
    return storage
}()
/// The terminal modes from before curses started, and whether they could be read.
nonisolated(unsafe) private let guardModes: UnsafeMutablePointer<termios> = {
    let storage = UnsafeMutablePointer<termios>.allocate(capacity: 1)
    storage.initialize(to: termios())
    return storage
}()
nonisolated(unsafe) private var guardHasModes: Int32 = 0
/// The reset sequences written by a handler (`TerminalGuard.prepareReset`).
private let guardResetCapacity = 512
nonisolated(unsafe) private let guardResetBytes: UnsafeMutablePointer<UInt8> = {
    let storage = UnsafeMutablePointer<UInt8>.allocate(capacity: guardResetCapacity)
    storage.initialize(repeating: 0, count: guardResetCapacity)
    return storage
}()
nonisolated(unsafe) private var guardResetCount = 0

/// Gives the terminal back from a signal handler: the saved modes, then the reset sequences.
private func emergencyRestore() {
    guard guardActive.exchange(0, ordering: .sequentiallyConsistent) != 0 else { return }
    if guardHasModes != 0 { tcsetattr(STDIN_FILENO, TCSANOW, guardModes) }
    var written = 0
    while written < guardResetCount {
        let n = write(STDOUT_FILENO, guardResetBytes + written, guardResetCount - written)
        if n > 0 { written += n } else if n < 0 && errno == EINTR { continue } else { break }
    }
}

/// A stop signal: the first is left to the input loop (with an alarm in case it does not answer),
/// a second one restores the terminal here and leaves.
private func stopHandler(_ signal: Int32) {
    if guardPending.compareExchange(expected: 0, desired: signal, ordering: .sequentiallyConsistent).exchanged {
        alarm(2)  // TerminalGuard.patience (a literal: no lazy global in a handler)
        return
    }
    emergencyRestore()
    _exit(128 + signal)
}

/// The alarm after a stop signal: the input loop did not answer in time.
private func patienceHandler(_ signal: Int32) {
    let stop = guardPending.load(ordering: .sequentiallyConsistent)
    guard stop != 0 else { return }
    emergencyRestore()
    _exit(128 + stop)
}

/// A crash: terminal back, the previous handler back, the signal delivered again.
private func crashHandler(_ signal: Int32) {
    emergencyRestore()
    var slot = 0
    while slot < 10 && guardSignalAt(slot) != signal { slot += 1 }  // 10: SIGALRM's slot, the last
    sigaction(signal, guardSavedActions + slot, nil)
    raise(signal)
}

/// `TerminalGuard.signals[slot]` without touching the array from a handler.
private func guardSignalAt(_ slot: Int) -> Int32 {
    switch slot {
    case 0: return SIGINT
    case 1: return SIGTERM
    case 2: return SIGHUP
    case 3: return SIGQUIT
    case 4: return SIGSEGV
    case 5: return SIGBUS
    case 6: return SIGILL
    case 7: return SIGTRAP
    case 8: return SIGFPE
    case 9: return SIGABRT
    default: return SIGALRM
    }
}
