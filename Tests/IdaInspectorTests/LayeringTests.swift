import Foundation
import IdaTestSupport
import Testing

/// The inspector's layers read from its sources: State knows nothing of Views, and the state
/// changes only in `update`.
@Suite("Inspector layering (source files)")
struct LayeringTests {
    /// The Swift files of Sources/IdaInspector/`folder`, by name.
    static func sources(_ folder: String) throws -> [(name: String, text: String)] {
        let dir = repositoryFile("Sources/IdaInspector/" + folder)
        return try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".swift") }.sorted().map {
            ($0, try String(contentsOfFile: dir + "/" + $0, encoding: .utf8))
        }
    }

    /// Identifiers of `text` (words of letters, digits and underscores).
    static func words(_ text: String) -> Set<String> {
        Set(text.split { !($0.isLetter || $0.isNumber || $0 == "_") }.map(String.init))
    }

    @Test("State/ names no type declared in Views/, not even in a comment")
    func stateNamesNoView() throws {
        let views = try Self.sources("Views")
        var types: Set<String> = []
        for file in views {
            for line in file.text.split(separator: "\n") {
                // Top-level declarations only: nested types are reached through their outer type.
                let parts = line.split(separator: " ").map(String.init)
                guard let kind = parts.firstIndex(where: { ["enum", "struct", "class", "protocol", "typealias", "actor"].contains($0) }),
                      parts[..<kind].allSatisfy({ ["public", "internal", "final", "fileprivate", "private"].contains($0) }),
                      !line.hasPrefix(" "), kind + 1 < parts.count else { continue }
                types.insert(String(parts[kind + 1].prefix { $0.isLetter || $0.isNumber || $0 == "_" }))
            }
        }
        #expect(types.isSuperset(of: ["InspectorView", "LayerView", "OverviewView", "TokensView", "LoadGrid", "TabBar"]), "\(types)")
        for file in try Self.sources("State") {
            let named = Self.words(file.text).intersection(types)
            #expect(named.isEmpty, "State/\(file.name) names \(named.sorted())")
        }
    }

    @Test("App/ changes the state only through update: no assignment to a field of it, no mutating call but update")
    func appWritesOnlyThroughUpdate() throws {
        let assignment = try Regex(#"\bstate\??\.[A-Za-z_][A-Za-z0-9_.?]*\s*([-+*/]?=)(?!=)"#)
        let mutatingCall = try Regex(#"\bstate\??\.(?!update\()[A-Za-z_][A-Za-z0-9_.?]*\.(append|toggle|remove\w*|insert|sort)\("#)
        let direct = try Regex(#"\bstate\.(?!update\()(show|select|click|perform|startOver|jump|moveCursor|moveExpert|closeLiveText)\("#)
        for file in try Self.sources("App") {
            for (number, line) in file.text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = String(line.prefix { $0 != "/" })
                for pattern in [assignment, mutatingCall, direct] {
                    #expect(code.firstMatch(of: pattern) == nil, "App/\(file.name):\(number + 1): \(line)")
                }
            }
        }
    }
}
