import IdaFormats

/// The machine-readable schema of run.json (docs/schema/run.schema.json, JSON Schema 2020-12), made
/// from `RunManifest`'s fields and the settings tables, so the file other producers are checked
/// against cannot drift from what idamoe reads. `idamoe schema run` prints it; a test holds the file
/// in docs/ to it.
public enum ContractSchema {
    /// The JSON Schema of run.json.
    public static var run: JSONValue {
        func section<R>(_ rows: [AnySetting<R>], _ title: String) -> JSONValue {
            var properties: [String: JSONValue] = [:]
            for row in rows {
                var schema = row.schema.object ?? [:]
                schema["description"] = .string(row.summary + (row.flag.map { " (flag --\($0))" } ?? ""))
                properties[row.key] = .object(schema)
            }
            return .object(["type": .string("object"), "description": .string(title), "properties": .object(properties),
                            "additionalProperties": .bool(false)])
        }
        let integer: JSONValue = .object(["type": .string("integer"), "minimum": .int(0)])
        /// Each top-level key's schema and whether every producer writes it; the switch covers every key
        /// `RunManifest` has, so a new field cannot be left out of the schema.
        func property(_ key: RunManifest.CodingKeys) -> (schema: JSONValue, required: Bool) {
            switch key {
            case .format: return (.object(["const": .int(1)]), true)
            case .producer: return (.object(["type": .string("string"), "description": .string("the writer when not idamoe train")]), false)
            case .runId: return (.object(["type": .string("string"), "pattern": .string("^[0-9a-f]{32}$")]), false)
            case .created: return (.object(["type": .string("number"), "description": .string("seconds since the Unix epoch")]), true)
            case .domains: return (.object(["type": .string("array"), "items": .object(["type": .string("string")])]), true)
            case .corpusBytes, .parameters, .probeTokens: return (integer, false)
            case .capture: return (CaptureInfo.schema, false)
            case .imported: return (ImportInfo.schema, false)
            case .lossUnit:
                return (.object(["enum": .array(LossUnit.names.map(JSONValue.string)),
                                 "description": .string("what the step events' loss is per (absent: nats/byte)")]), false)
            case .model: return (section(ModelConfig.settings, "the model's shape and routers (ModelConfig)"), true)
            case .training: return (section(TrainingOptions.settings, "optimisation, data and logging settings (TrainingOptions)"), true)
            }
        }
        let keys = RunManifest.CodingKeys.allCases
        return .object([
            "$schema": .string("https://json-schema.org/draft/2020-12/schema"),
            "$id": .string("https://idamoe.dev/schema/run.schema.json"),
            "title": .string("idamoe run.json"),
            "description": .string("A run directory's manifest (docs/format.md, \"Run directories\"). idamoe train writes every "
                + "setting; other producers write the settings they know and `producer`."),
            "type": .string("object"),
            "required": .array(keys.filter { property($0).required }.map { .string($0.stringValue) }),
            "additionalProperties": .bool(false),
            "properties": .object(Dictionary(uniqueKeysWithValues: keys.map { ($0.stringValue, property($0).schema) })),
        ])
    }

    /// Pretty JSON text of `value` (sorted keys, two-space indent), as the docs/schema files hold it.
    public static func pretty(_ value: JSONValue, indent: String = "") -> String {
        let inner = indent + "  "
        switch value {
        case let .object(members) where !members.isEmpty:
            let lines = members.keys.sorted().map { key in inner + JSONValue.string(key).serialized() + ": " + pretty(members[key] ?? .null, indent: inner) }
            return "{\n" + lines.joined(separator: ",\n") + "\n" + indent + "}"
        case let .array(items) where !items.isEmpty && items.contains(where: { $0.object != nil || $0.array != nil }):
            return "[\n" + items.map { inner + pretty($0, indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        default:
            return value.serialized()
        }
    }
}
