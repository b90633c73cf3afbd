import ArgumentParser
import Foundation

/// The signal that asked a long command to stop (0: none); written only by `StopSignals`' handler.
nonisolated(unsafe) private var requestedStop: sig_atomic_t = 0

/// Stopping `idamoe train` cleanly on SIGINT, SIGTERM, SIGQUIT and SIGHUP (docs/reliability.md,
/// "Signals"): the handler only records the signal; the trainer sees it between steps and returns,
/// with its last step logged and the run resumable. A second signal ends the process at once (the
/// run is just as resumable: every file is published atomically). SIGQUIT would otherwise reach the
/// Swift runtime's crash reporter, which froze training for about 30 s.
enum StopSignals {
    /// The signals that ask for a stop.
    static let handled: [Int32] = [SIGINT, SIGTERM, SIGQUIT, SIGHUP]

    /// Installs the handler for every signal of `handled`, and unblocks them (a parent's blocked mask is
    /// inherited through exec and would leave the signals pending for ever).
    static func install() {
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for signo in handled { sigaddset(&unblock, signo) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        for signo in handled {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { signo in
                if requestedStop != 0 { _exit(128 + signo) }
                requestedStop = signo
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(signo, &action, nil)
        }
    }

    /// The signal that asked for a stop, or nil.
    static var requested: Int32? { requestedStop == 0 ? nil : requestedStop }

    /// "SIGINT" for a signal number.
    static func name(_ signo: Int32) -> String {
        switch signo {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        case SIGQUIT: return "SIGQUIT"
        case SIGHUP: return "SIGHUP"
        default: return "signal \(signo)"
        }
    }
}
