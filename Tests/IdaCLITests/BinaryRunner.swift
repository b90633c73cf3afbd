import Foundation
import IdaTestSupport
import Testing

/// What a run of the built `idamoe` binary produced.
struct RunOutput {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// The `idamoe` executable next to the test bundle (or $IDAMOE_BIN).
func idamoeBinary() -> String {
    if let env = ProcessInfo.processInfo.environment["IDAMOE_BIN"], !env.isEmpty { return env }
    let bundleDir = Bundle.main.bundleURL.deletingLastPathComponent()
    for candidate in [Bundle.main.bundleURL, bundleDir] {
        let path = candidate.appendingPathComponent("idamoe").path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return repositoryFile(".build/debug/idamoe")
}


/// Runs `idamoe` with `arguments` and no standard input, collecting both output streams; a run
/// longer than `timeout` seconds is killed and recorded as a failure.
func runIdamoe(_ arguments: [String], environment: [String: String] = [:], unsetting: [String] = [],
               timeout: Double = 300, sourceLocation: SourceLocation = #_sourceLocation) throws -> RunOutput {
    let result = try runChild(idamoeBinary(), arguments, environment: environment, unsetting: unsetting,
                              timeout: timeout)
    if result.timedOut {
        Issue.record("idamoe \(arguments.joined(separator: " ")) still running after \(timeout) s; killed",
                     sourceLocation: sourceLocation)
    }
    return RunOutput(status: result.status, stdout: result.stdout, stderr: result.stderr)
}


/// Two small text domains of 30 documents each under `dir/corpus`; returns the corpus folder.
func makeTinyCorpus(in dir: String) throws -> String {
    let path = dir + "/corpus"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    for d in 0..<2 {
        let docs = (0..<30).map { "doc \($0) of domain \(d): the quick brown fox \($0 * d)\n" }
        try docs.joined(separator: "%\n").write(toFile: "\(path)/d\(d)", atomically: true, encoding: .utf8)
    }
    return path
}

/// `idamoe train` flags for the tiny model of IdaTestSupport.
let tinyModelArguments = TinyModel.arguments
