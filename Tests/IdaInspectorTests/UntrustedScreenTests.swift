import Foundation
import IdaFormats
import IdaRouting
import IdaTerminal
import IdaTestSupport
import Testing
@testable import IdaInspector

/// No string from a file (run.json, the probe's vocab and domain names, event fields, the run
/// directory's name) can put a control, bidi or separator character on the screen.
@Suite("Untrusted text on screen", .serialized)
struct UntrustedScreenTests {
    static let osc = "\u{1B}]0;x\u{07}"
    static let override = "\u{202E}"

    /// Every scalar of `frame` that could drive a terminal or reorder a line.
    static func forbidden(_ frame: ScreenBuffer) -> [String] {
        frame.cells.flatMap { $0.text.unicodeScalars.filter(UntrustedText.needsEscape) }
            .map { "U+" + String($0.value, radix: 16) }
    }

    /// A copy of the probe at `source` whose vocab and domain names are hostile.
    static func hostileProbe(from source: String, to path: String) throws {
        let file = try SafetensorsFile(path: source)
        var writer = SafetensorsWriter()
        for info in file.tensors {
            let bytes = try file.withRawBytes(info.name) { Array($0) }
            try writer.add(info.name, dtype: info.dtype, shape: info.shape, bytes: bytes)
        }
        let vocab = (0..<256).map { i in i % 2 == 0 ? osc + "t\(i)" : "a" + override + "b\u{2066}\u{61C}" }
        writer.metadata = file.metadata
        writer.metadata["idamoe.vocab"] = String(decoding: try JSONSerialization.data(withJSONObject: vocab), as: UTF8.self)
        let names = [osc + "prose", override + "code", "\u{85}math\u{9B}", "dia\u{2028}logue\u{FEFF}"]
        writer.metadata["idamoe.domain_names"] = String(decoding: try JSONSerialization.data(withJSONObject: names), as: UTF8.self)
        try writer.write(to: path)
    }

    @Test("headless frames of a run with hostile run.json, probe and event strings hold none of those scalars")
    func hostileRun() throws {
        let dir = temporaryDirectory() + "/run" + Self.osc + Self.override
        let layout = RunLayout(dir)
        try FileManager.default.createDirectory(atPath: layout.snapshots, withIntermediateDirectories: true)
        let manifest: [String: Any] = [
            "created": 1, "runId": String(repeating: "c", count: 32),
            "domains": [Self.osc, Self.override],
            "model": ["router": "ida", "latentNorm": Self.osc + "rms" + Self.override],
            "training": ["reactivation": Self.override + "reset" + Self.osc, "reseed": "pool", "seed": 3],
        ]
        try JSONSerialization.data(withJSONObject: manifest).write(to: URL(fileURLWithPath: layout.manifest))
        let start: [String: Any] = ["v": 1, "step": 0, "time": 1, "kind": "start", "domains": [Self.osc, Self.override], "router": Self.osc]
        let step: [String: Any] = ["v": 1, "step": 1, "time": 2, "kind": "step", "loss": 3, "cv_mean": 0.5]
        let eval: [String: Any] = ["v": 1, "step": 1, "time": 2, "kind": "eval", "val_bpb": 4, "domains": [Self.osc: 4.0, Self.override: 3.0]]
        let react: [String: Any] = ["v": 1, "step": 1, "time": 2, "kind": "reactivation", "event": Self.osc + "died" + Self.override,
                                    "layer": 0, "component": 1, "expert": 0, "prior": 0.001]
        let lines = try [start, step, eval, react].map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: layout.events))
        try FileManager.default.copyItem(atPath: repositoryFile("fixtures/tiny-ida.safetensors"), toPath: layout.snapshot(step: 1))
        try Self.hostileProbe(from: repositoryFile("fixtures/tiny-probe.safetensors"), to: layout.probe(step: 1))
        try FileManager.default.copyItem(atPath: layout.probe(step: 1), toPath: layout.probe)

        for keys in ["1", "2", "2 t", "3 d", "4", "4 Right Right Right", "5", "?"] {
            let app = InspectorApp(source: .run(dir), probe: nil)
            let frame = app.headlessFrame(width: 140, height: 44, keys: try Key.sequence(keys), mode: .full)
            #expect(Self.forbidden(frame).isEmpty, "\(keys): \(Self.forbidden(frame))\n\(frame.text())")
            #expect(app.headlessFailure == nil, "\(keys): \(app.headlessFailure ?? "")")
        }
        // Settings are closed sets read through the settings tables: a hostile value is no value (left
        // out of the title); the directory name, a path anyone could choose, is shown escaped.
        let app = InspectorApp(source: .run(dir), probe: nil)
        let title = app.headlessFrame(width: 300, height: 30, keys: [], mode: .full).lines()[1]
        #expect(!title.contains("reactivation") && title.contains("latent none · seed 3"), "\(title)")
        #expect(title.contains(#"run\u{1b}]0;x\u{7}\u{202e}"#), "\(title)")
    }

    @Test("the cell buffer refuses exactly the scalars UntrustedText escapes")
    func oneSet() {
        for value in UInt32(0)...0x10FFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            if CellText.isControl(scalar) != UntrustedText.needsEscape(scalar) {
                Issue.record("U+\(String(value, radix: 16)): cell \(CellText.isControl(scalar)), UntrustedText \(UntrustedText.needsEscape(scalar))")
                return
            }
        }
    }
}
