import Foundation

/// OpenBLAS's idle worker threads spin (sched_yield) for 2^OPENBLAS_THREAD_TIMEOUT cycles before
/// sleeping; the default, 2^28 cycles (about 0.1 s), keeps the second core busy between the many
/// small GEMMs of a training step, where our own element-wise workers need it. OpenBLAS reads the
/// variable once, when the library loads, so when it is unset the process sets it and re-executes
/// itself (once: the variable is then set). `bench train` measured 10-12k tokens/s with the default
/// and 13.5-14.5k with 12 on the IDA router (docs/benchmarks.md).
public func ensureBLASThreadTimeout(value: Int = 12) {
    let name = "OPENBLAS_THREAD_TIMEOUT"
    guard getenv(name) == nil else { return }
    setenv(name, String(value), 1)
    let arguments = CommandLine.arguments
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
    argv.append(nil)
    execv("/proc/self/exe", argv)
    // execv returned: it failed; carry on with OpenBLAS's default.
    for p in argv { free(p) }
}
