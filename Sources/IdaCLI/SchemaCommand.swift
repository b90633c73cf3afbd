import ArgumentParser
import IdaFormats
import IdaRouting

/// `idamoe schema run|settings` (hidden): the file contract as the code defines it, for docs/schema/
/// and for the tests that hold the Python package to it.
struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema", abstract: "Print run.json's JSON Schema, or the settings table with defaults, as the code defines them.",
        shouldDisplay: false)

    /// What to print.
    enum Part: String, ExpressibleByArgument, CaseIterable {
        case run, settings
    }

    @Argument(help: "run (docs/schema/run.schema.json) or settings (every setting's section, key, flag, default, range as JSON Schema bounds, and what absence means where the row says).")
    var part: Part

    func run() throws {
        switch part {
        case .run:
            try StandardOutput.write(ContractSchema.pretty(ContractSchema.run) + "\n")
        case .settings:
            var rows: [JSONValue] = []
            func add<R>(_ section: String, _ settings: [AnySetting<R>], _ defaults: R) throws {
                for s in settings {
                    var row: [String: JSONValue] = ["section": .string(section), "key": .string(s.key),
                                                    "flag": s.flag.map { .string("--" + $0) } ?? .null,
                                                    "default": try s.jsonValue(in: defaults),
                                                    "range": s.range.map { .object($0.schemaKeywords) } ?? .null]
                    if let absent = s.absent { row["absent"] = absent }
                    rows.append(.object(row))
                }
            }
            try add("model", ModelConfig.settings, ModelConfig())
            try add("training", TrainingOptions.settings, TrainingOptions())
            try StandardOutput.json(JSONValue.array(rows).serialized())
        }
    }
}
