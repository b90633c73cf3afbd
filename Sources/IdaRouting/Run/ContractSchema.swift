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
        return .object([
            "$schema": .string("https://json-schema.org/draft/2020-12/schema"),
            "$id": .string("https://idamoe.dev/schema/run.schema.json"),
            "title": .string("idamoe run.json"),
            "description": .string("A run directory's manifest (docs/format.md, \"Run directories\"). idamoe train writes every "
                + "setting; other producers write the settings they know and `producer`."),
            "type": .string("object"),
            "required": .array(["format", "model", "training", "domains", "created"].map(JSONValue.string)),
            "additionalProperties": .bool(false),
            "properties": .object([
                "format": .object(["const": .int(1)]),
                "producer": .object(["type": .string("string"), "description": .string("the writer when not idamoe train")]),
                "runId": .object(["type": .string("string"), "pattern": .string("^[0-9a-f]{32}$")]),
                "created": .object(["type": .string("number"), "description": .string("seconds since the Unix epoch")]),
                "domains": .object(["type": .string("array"), "items": .object(["type": .string("string")])]),
                "corpusBytes": integer, "parameters": integer, "probeTokens": integer,
                "capture": CaptureInfo.schema,
                "imported": ImportInfo.schema,
                "lossUnit": .object(["enum": .array(LossUnit.names.map(JSONValue.string)),
                                     "description": .string("what the step events' loss is per (absent: nats/byte)")]),
                "model": section(ModelConfig.settings, "the model's shape and routers (ModelConfig)"),
                "training": section(TrainingOptions.settings, "optimisation, data and logging settings (TrainingOptions)"),
            ]),
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
