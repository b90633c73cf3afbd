import Foundation
import IdaFormats
import IdaTestSupport
import Testing
@testable import IdaRouting

/// docs/schema/ is the contract both languages are held to: run.schema.json is what the code generates,
/// events.schema.json lists exactly the fields of each event type, and a run written by Python decodes
/// here with no field left over.
@Suite("The file contract's schema")
struct ContractSchemaTests {
    static func schemaFile(_ name: String) throws -> JSONValue {
        try JSONValue.parse(bytes: SmallFile.read(repositoryFile("docs/schema/" + name)))
    }

    @Test("docs/schema/run.schema.json is what `idamoe schema run` prints")
    func runSchema() throws {
        let text = String(decoding: try SmallFile.read(repositoryFile("docs/schema/run.schema.json")), as: UTF8.self)
        #expect(text == ContractSchema.pretty(ContractSchema.run) + "\n", "regenerate: idamoe schema run > docs/schema/run.schema.json")
    }

    /// The keys of the schema's object `name` in `$defs`, the common line fields left out.
    func keys(_ schema: JSONValue, _ name: String) -> Set<String> {
        Set(schema["$defs"]?[name]?["properties"]?.object?.keys.map { $0 } ?? []).subtracting(["v", "step", "time", "kind"])
    }

    @Test("events.schema.json lists exactly each event type's fields")
    func eventsSchema() throws {
        let schema = try Self.schemaFile("events.schema.json")
        func names<K: CodingKey & CaseIterable>(_: K.Type) -> Set<String> { Set(K.allCases.map(\.stringValue)) }
        #expect(keys(schema, "start") == names(StartEvent.CodingKeys.self))
        #expect(keys(schema, "step") == names(StepEvent.CodingKeys.self))
        #expect(keys(schema, "stepLayer") == names(StepEvent.Layer.CodingKeys.self))
        #expect(keys(schema, "eval") == names(EvalEvent.CodingKeys.self))
        #expect(keys(schema, "evalLayer") == names(EvalEvent.Layer.CodingKeys.self))
        #expect(keys(schema, "reactivation") == names(ReactivationEvent.CodingKeys.self))
        #expect(keys(schema, "snapshot") == names(SnapshotEvent.CodingKeys.self))
        #expect(keys(schema, "resume") == names(ResumeEvent.CodingKeys.self))
        #expect(keys(schema, "done").isEmpty)
        let kinds = (schema["allOf"]?.array ?? []).compactMap { $0["if"]?["properties"]?["kind"]?["const"]?.string }
        #expect(Set(kinds) == ["start", "step", "eval", "reactivation", "snapshot", "resume", "done"])
    }

    @Test("a run written by the Python RunWriter decodes with no unknown kind or field")
    func pythonRun() throws {
        let schema = try Self.schemaFile("events.schema.json")
        let lines = String(decoding: try SmallFile.read(repositoryFile("fixtures/torch-run/events.jsonl")), as: UTF8.self)
            .split(separator: "\n").map(String.init)
        var kinds = Set<String>()
        for line in lines {
            let event = try #require(RunEvent(line: line), "\(line)")
            if case .other = event.body { Issue.record("unknown kind: \(line)") }
            kinds.insert(event.kind)
            let raw = try JSONValue.parse(line)
            let extra = Set(raw.object?.keys.map { $0 } ?? []).subtracting(["v", "step", "time", "kind"]).subtracting(keys(schema, event.kind))
            #expect(extra.isEmpty, "\(event.kind): \(extra)")
            for layer in raw["layers"]?.array ?? [] {
                let layerKeys = Set(layer.object?.keys.map { $0 } ?? [])
                let known = keys(schema, event.kind == "step" ? "stepLayer" : "evalLayer")
                #expect(layerKeys.isSubset(of: known), "\(event.kind) layer: \(layerKeys.subtracting(known))")
            }
            // What Swift decoded is what Python wrote: re-encoding gives the same figures.
            if case let .step(s) = event.body {
                #expect(s.layers.count == raw["layers"]?.array?.count && s.loss == raw["loss"]?.double)
            }
        }
        #expect(kinds == ["start", "step", "reactivation", "eval", "snapshot", "done"])
        let manifest = try SmallFile.read(repositoryFile("fixtures/torch-run/run.json"))
        let run = try #require(RunDescription(json: manifest))
        let raw = try JSONValue.parse(bytes: manifest)
        #expect(run.modelKeys == Set(raw["model"]?.object?.keys.map { $0 } ?? []), "every model key Python writes is a setting")
        #expect(run.trainingKeys == Set(raw["training"]?.object?.keys.map { $0 } ?? []), "every training key Python writes is a setting")
        #expect(run.producer?.hasPrefix("idamoe_torch") == true && run.runId?.count == 32 && run.model.router == .ida)
    }
}

extension ContractSchemaTests {
    @Test("docs/format.md's events table names every field of each kind the schema lists")
    func formatTableAgrees() throws {
        let schema = try Self.schemaFile("events.schema.json")
        let text = String(decoding: try SmallFile.read(repositoryFile("docs/format.md")), as: UTF8.self)
        let section = try #require(text.components(separatedBy: "### Events").dropFirst().first?.components(separatedBy: "\n## ").first)
        for kind in ["start", "step", "eval", "reactivation", "snapshot", "resume", "done"] {
            let row = try #require(section.split(separator: "\n").first { $0.hasPrefix("| `\(kind)` |") }, "no row for \(kind)")
            var fields = keys(schema, kind)
            if kind == "step" { fields.formUnion(keys(schema, "stepLayer")) }
            if kind == "eval" { fields.formUnion(keys(schema, "evalLayer")) }
            let words = Set(row.split { !($0.isLetter || $0.isNumber || $0 == "_") }.map(String.init))
            for field in fields {
                #expect(words.contains(field), "format.md's \(kind) row does not name \(field)")
            }
        }
    }
}

extension ContractSchemaTests {
    @Test("run.json's top-level keys are RunManifest's: the schema's properties; producer and imported round-trip")
    func manifestKeys() throws {
        let schema = try Self.schemaFile("run.schema.json")
        let names = Set(RunManifest.CodingKeys.allCases.map(\.stringValue))
        let properties = Set((schema["properties"]?.object ?? [:]).keys)
        let required = Set((schema["required"]?.array ?? []).compactMap(\.string))
        #expect(properties == names)
        #expect(required == ["format", "model", "training", "domains", "created"])
        let raw = try JSONValue.parse(bytes: SmallFile.read(repositoryFile("fixtures/torch-run/run.json")))
        let written = Set((raw.object ?? [:]).keys)
        #expect(written.isSubset(of: names))
        // Absent, the optional records stay out of what idamoe train writes; present, they round-trip
        // through the strict reader and the lenient one.
        var manifest = RunManifest(model: ModelConfig(), training: TrainingOptions(), domains: ["prose"], corpusBytes: 10,
                                   parameters: 20, probeTokens: 30, created: 1)
        let plain = try manifest.encoded()
        #expect(!plain.contains("\"producer\"") && !plain.contains("\"imported\""))
        manifest.producer = "idamoe_torch 0.1.0"
        manifest.imported = ImportInfo(producer: "vLLM", records: "routed experts")
        let text = try manifest.encoded()
        #expect(try JSONDecoder().decode(RunManifest.self, from: Data(text.utf8)) == manifest)
        let lenient = try #require(RunDescription(json: Array(text.utf8)))
        #expect(lenient.producer == manifest.producer && lenient.imported == manifest.imported)
    }
}
