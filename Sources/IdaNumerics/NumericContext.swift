import IdaBLAS
import Foundation
import IdaSystem

/// What changes a computation's results beyond its inputs, handed explicitly to every kernel that
/// splits work: the number of worker threads. No kernel reads or changes process-wide state for it.
///
/// OpenBLAS always runs single-threaded in idamoe (`BLAS`); the workers split a GEMM by rows of its
/// output (`gemm(…, context:)`) or run independent units side by side (attention's (batch, head)
/// pairs, experts), never inside a reduction. A result therefore depends on the thread count only
/// through which rows one GEMM call covers, and is the same whatever the scheduling
/// (docs/decisions.md). The trainer gives each micro-batch's kernels its own share of the workers
/// (`MoETransformer.accumulateGradients`).
public struct NumericContext: Sendable, Equatable {
    /// Worker threads (at least 1).
    public var threads: Int

    /// A context with `threads` workers.
    public init(threads: Int) { self.threads = max(1, threads) }

    /// One worker: everything on the calling thread.
    public static let serial = NumericContext(threads: 1)

    /// One worker per core available to the process.
    public static var allCores: NumericContext { NumericContext(threads: Cores.available) }

    /// The context a thread-count setting (`--threads`, `TrainingOptions.threads`) asks for: `requested`
    /// workers, or one per core for 0: the one place "0 means every core" is computed.
    public init(requested: Int) {
        self = requested > 0 ? NumericContext(threads: requested) : .allCores
    }

    /// The thread counts a setting may ask for: 0 (every core) ... `SizeLimits.threads`.
    public static let requestable = ValueRange.integers(0...SizeLimits.threads, note: "0: every core")
}
