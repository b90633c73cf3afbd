import Foundation

/// What every idamoe process sets before its command runs.
/// - A write past the file-size limit (`ulimit -f`) fails with EFBIG and becomes a one-line error
///   (the trainer's run then resumes from its last complete snapshot), instead of SIGXFSZ killing
///   the process in the middle of a snapshot.
/// - A write to a closed pipe fails with EPIPE instead of SIGPIPE killing the process.
/// - The OpenBLAS variables read at load time (`prepareBLASEnvironment`, which may re-execute).
public func prepareProcess() {
    signal(SIGXFSZ, SIG_IGN)
    // A closed pipe is an EPIPE from write(2), which StandardOutput turns into a quiet end (and
    // the trainer's progress lines into nothing), rather than a signal.
    signal(SIGPIPE, SIG_IGN)
    prepareBLASEnvironment()
}
