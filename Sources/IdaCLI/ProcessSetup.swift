import Foundation

/// What every idamoe process sets before its command runs.
/// - A write past the file-size limit (`ulimit -f`) fails with EFBIG and becomes a one-line error
///   (the trainer's run then resumes from its last complete snapshot), instead of SIGXFSZ killing
///   the process in the middle of a snapshot.
/// - The OpenBLAS variables read at load time (`prepareBLASEnvironment`, which may re-execute).
public func prepareProcess() {
    signal(SIGXFSZ, SIG_IGN)
    prepareBLASEnvironment()
}
