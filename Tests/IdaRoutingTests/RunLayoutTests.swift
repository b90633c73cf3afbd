import Foundation
import IdaRouting
import IdaFormats
import Testing

/// The run-directory table of docs/format.md, walked through `RunLayout`.
@Suite("Run directory layout")
struct RunLayoutTests {
    /// The rows of the "Run directories" table: each path the document names.
    static func documentedPaths() throws -> [String] {
        let doc = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/format.md")
        let text = try String(contentsOf: doc, encoding: .utf8)
        guard let start = text.range(of: "## Run directories") else { return [] }
        // The section up to its first subsection (the tables after it describe file contents).
        let section = String(text[start.upperBound...]).components(separatedBy: "\n#").first ?? ""
        return section.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("| `") else { return nil }
            return line.dropFirst(3).prefix { $0 != "`" }.description
        }
    }

    @Test("every path in docs/format.md's run-directory table is where RunLayout puts it")
    func documented() throws {
        let layout = RunLayout("RUN")
        let step = 12_345_678
        let expected: [String: String] = [
            "run.json": layout.manifest, "events.jsonl": layout.events, "probe.safetensors": layout.probe,
            "snapshots/step-XXXXXXXX.safetensors": layout.snapshot(step: step),
            "snapshots/step-XXXXXXXX.probe.safetensors": layout.probe(step: step),
            "snapshots/step-XXXXXXXX.optim.safetensors": layout.optimizer(step: step),
        ]
        let documented = try Self.documentedPaths()
        #expect(Set(documented) == Set(expected.keys))
        for path in documented {
            #expect("RUN/" + path.replacingOccurrences(of: "XXXXXXXX", with: "12345678") == expected[path])
        }
        #expect(RunLayout.relativeSnapshot(step: 200) == "snapshots/step-00000200.safetensors")
        #expect(RunLayout.relativeProbe(step: 7) == "snapshots/step-00000007.probe.safetensors")
    }

    @Test("snapshot steps: model files under their final names only, ascending")
    func listing() throws {
        let dir = NSTemporaryDirectory() + "idamoe-layout-" + UUID().uuidString
        let layout = RunLayout(dir)
        try FileManager.default.createDirectory(atPath: layout.snapshots, withIntermediateDirectories: true)
        for name in ["step-00000200.safetensors", "step-00000100.safetensors", "step-00000300.probe.safetensors",
                     "step-00000300.optim.safetensors", "step-00000300.safetensors.tmp-42", "step-300.safetensors",
                     "step-0000040a.safetensors", "notes.txt"] {
            FileManager.default.createFile(atPath: layout.snapshots + "/" + name, contents: Data())
        }
        #expect(layout.snapshotSteps() == [100, 200])
        #expect(!layout.isRun)
        try RunLayout.publish(Array("{}\n".utf8), at: layout.manifest)
        #expect(layout.isRun)
        #expect(RunLayout.probeBeside(checkpoint: layout.snapshot(step: 100)) == nil)
        FileManager.default.createFile(atPath: layout.probe(step: 100), contents: Data())
        #expect(RunLayout.probeBeside(checkpoint: layout.snapshot(step: 100)) == layout.probe(step: 100))
        #expect(RunLayout.run(containing: layout.snapshot(step: 100)) == dir)
        #expect(RunLayout.run(containing: dir + "/loose.safetensors") == nil)
        #expect(RunLayout.snapshotStep(fileName: "step-00000200.safetensors") == 200)
        #expect(RunLayout.snapshotStep(fileName: "step-00000200.probe.safetensors") == nil)
    }
}
