import ArgumentParser
import Foundation
import IdaBLAS

/// The `idamoe` command line: one subcommand per job.
public struct IdamoeCommand: ParsableCommand {
    /// Subcommands and help text.
    public static let configuration = CommandConfiguration(
        commandName: "idamoe",
        abstract: "Train, route and inspect Input-Domain-Aware Mixture-of-Experts routers.",
        version: "0.1.0",
        subcommands: [DemoCommand.self, InspectCommand.self, TrainCommand.self, InfoCommand.self, RouteCommand.self, DiffCommand.self, BenchCommand.self]
    )

    /// Required by ArgumentParser.
    public init() {}
}

/// Keeps large freed blocks in the heap instead of returning them to the kernel, so routing one
/// block after another reuses memory rather than faulting in and zeroing fresh pages each time.
func tuneAllocator() {
    // glibc <malloc.h>: M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3 (not exported by the Glibc module).
    _ = glibcMallopt(-3, 256 << 20)
    _ = glibcMallopt(-1, 512 << 20)
}

@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32

/// Sets OpenBLAS's thread count from a `--threads` option (0 or nil: every core).
func configureThreads(_ requested: Int?) -> Int {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let n = (requested ?? 0) > 0 ? (requested ?? 1) : cores
    tuneAllocator()
    BLAS.setThreads(n)
    return n
}

