import ArgumentParser
import Foundation
import IdaBLAS
import IdaNumerics
import IdaFormats
import IdaSystem

/// The `idamoe` command line: one subcommand per job.
public struct IdamoeCommand: ParsableCommand {
    /// What `idamoe --version` prints: VERSION at the repository's root, the one version of the binary, the
    /// PyTorch package and the wheel (Tests/python/test_version.py holds this copy to it).
    public static let version = "0.1.0"

    /// Subcommands and help text.
    public static let configuration = CommandConfiguration(
        commandName: "idamoe",
        abstract: "Train, route and inspect Input-Domain-Aware Mixture-of-Experts routers.",
        version: version,
        subcommands: [DemoCommand.self, InspectCommand.self, TrainCommand.self, InfoCommand.self, RouteCommand.self, DiffCommand.self, BenchCommand.self, RouterStepCommand.self, SchemaCommand.self]
    )

    /// Required by ArgumentParser.
    public init() {}
}

/// The allocator setting every command runs with (`Allocator.keepFreedMemory`).
func tuneAllocator() {
    Allocator.keepFreedMemory()
}

/// The worker count of a `--threads` option (0 or nil: every core), with the allocator tuned. OpenBLAS
/// itself is single-threaded in every idamoe process (`BLAS`), so routing (`ProbeRouting`'s tiles)
/// and training split their work over these workers and no result depends on another setting.
func configureThreads(_ requested: Int?) -> Int {
    configureThreads(checked: min(max(requested ?? 0, 0), SizeLimits.threads))
}

/// `configureThreads` for a `--threads` value the user gave: 0 ... `SizeLimits.threads`, else a flag error.
func configureThreads(flag requested: Int?) throws -> Int {
    if let requested, !NumericContext.requestable.contains(Double(requested)) {
        throw ValidationError("--threads " + NumericContext.requestable.requirement + ", got \(requested)")
    }
    return configureThreads(checked: requested ?? 0)
}

private func configureThreads(checked requested: Int) -> Int {
    tuneAllocator()
    return NumericContext(requested: requested).threads
}


extension IdamoeCommand {
    /// Parses and runs the command. `--help` and `--version` print in full; every error is one line
    /// on standard error ("Error: ..."), without ArgumentParser's usage block, and a non-zero exit
    /// (64 for a bad flag or value, 1 otherwise).
    public static func runReportingOneLine() -> Never {
        do {
            var command = try parseAsRoot()
            try command.run()
            Glibc.exit(0)
        } catch let code as ExitCode where code != .success && code != .validationFailure && code != .failure {
            Glibc.exit(code.rawValue)  // a status the command chose and explained itself (a signal's 128 + n)
        } catch StandardOutput.Failure.closed {
            Glibc.exit(0)  // the reader went away (`| head -1`): nothing more to say to anyone
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }  // help and version requests
            StandardError.write("Error: " + UntrustedText.sanitized(oneLine(error)) + "\n")
            Glibc.exit(code.rawValue)
        }
    }

    /// The error as one line. Foundation's file errors (a directory that cannot be created, say)
    /// describe themselves as a dump of their user info; they become "path: reason".
    static func oneLine(_ error: Error) -> String {
        let ns = error as NSError
        guard ns.domain == NSCocoaErrorDomain else { return message(for: error) }
        let path = ns.userInfo[NSFilePathErrorKey] as? String ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
        let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError
        let reason = underlying.flatMap { $0.domain == NSPOSIXErrorDomain ? String(cString: strerror(Int32($0.code))) : nil }
            ?? ns.localizedDescription
        return ((path.map { $0 + ": " } ?? "") + reason).replacingOccurrences(of: "\n", with: " ")
    }
}
