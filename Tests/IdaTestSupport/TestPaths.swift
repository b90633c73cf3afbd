import Foundation

/// A fresh, empty temporary directory for one test (named so a leftover is recognisable).
public func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "idamoe-test-" + UUID().uuidString
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// The repository's root folder, found from this source file's path (Tests/IdaTestSupport/).
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// A file of the repository by its path from the root (fixtures, docs, the debug build).
public func repositoryFile(_ relative: String) -> String {
    repositoryRoot.appendingPathComponent(relative).path
}

/// A file of the repository's fixtures/ folder.
public func fixturePath(_ name: String) -> String {
    repositoryFile("fixtures/" + name)
}
