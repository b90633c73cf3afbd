import ArgumentParser
import IdaBLAS
import IdaNumerics
import IdaRouting

/// `--threads N` of every command that routes or trains outside a run's settings (route, diff, the
/// benchmarks): one declaration, one range (`SizeLimits.threads`), one meaning of 0 (every core).
/// OpenBLAS itself is single-threaded in every idamoe process (`BLAS`): these workers split the work,
/// and no result depends on their number.
struct ThreadsOption: ParsableArguments {
    @Option(help: "Worker threads, each running BLAS single-threaded; 0 for every core (default: every core). Results do not depend on it.")
    var threads: Int?

    /// The worker count, with the allocator tuned (a flag error when out of range).
    func workers() throws -> Int {
        try configureThreads(flag: threads)
    }
}
