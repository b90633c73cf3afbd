import Foundation
import IdaBLAS
import IdaSystem

/// Sets the OpenBLAS variables that are read only when the library loads, then re-executes the
/// process once so they take effect:
/// - `OPENBLAS_THREAD_TIMEOUT` (12 unless set): OpenBLAS's idle worker threads spin (sched_yield) for
///   2^timeout cycles before sleeping; the default, 2^28 cycles (about 0.1 s), keeps the second core
///   busy between the many small GEMMs of a training step, where our own element-wise workers need
///   it (docs/benchmarks.md).
/// - `OPENBLAS_CORETYPE` (unless set): when the loaded OpenBLAS picked a generic core for a CPU that
///   runs a better one (`KernelChoice.decide`), for example Prescott on an AVX-512 Xeon it does not
///   know; `IDAMOE_OPENBLAS_REPLACED_CORE` records what it had picked.
/// A value the user set always wins. If the re-execution fails the process carries on as it is.
public func prepareBLASEnvironment(threadTimeout: Int = 12) {
    var changed = false
    if getenv("OPENBLAS_THREAD_TIMEOUT") == nil {
        setenv("OPENBLAS_THREAD_TIMEOUT", String(threadTimeout), 1)
        changed = true
    }
    let user = getenv(KernelChoice.variable).map { String(cString: $0) }
    if case let .upgrade(core, replacing) = KernelChoice.decide(features: .current(), loadedCore: BLAS.coreName,
                                                                userSetting: user) {
        setenv(KernelChoice.variable, core, 1)
        setenv(KernelChoice.replacedVariable, replacing, 1)
        changed = true
    }
    // Once both are set the re-executed process finds nothing to change, so this runs at most once.
    guard changed else { return }
    let arguments = CommandLine.arguments
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
    argv.append(nil)
    execv("/proc/self/exe", argv)
    // execv returned: it failed; carry on with what OpenBLAS loaded.
    for p in argv { free(p) }
}
