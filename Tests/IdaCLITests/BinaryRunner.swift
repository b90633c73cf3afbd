import Foundation

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
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return root.appendingPathComponent(".build/debug/idamoe").path
}

/// Runs `idamoe` with `arguments` and no standard input, collecting both output streams.
func runIdamoe(_ arguments: [String], environment: [String: String] = [:]) throws -> RunOutput {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: idamoeBinary())
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    process.environment = env
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Read both pipes before waiting so a large output cannot fill a pipe and stall the child.
    nonisolated(unsafe) var errBytes = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errBytes = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return RunOutput(status: process.terminationStatus,
                     stdout: String(decoding: outData, as: UTF8.self),
                     stderr: String(decoding: errBytes, as: UTF8.self))
}

/// A fresh temporary directory.
func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "idamoe-cli-" + UUID().uuidString
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
