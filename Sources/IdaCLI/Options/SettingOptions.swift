import ArgumentParser
import IdaFormats
import IdaNumerics
import IdaRouting

/// The model and training settings as flags of `train`, `demo` and `bench train`, parsed from the
/// settings tables (`ModelConfig.settings`, `TrainingOptions.settings`): each flag's name, help, default
/// and range are defined once, there. Every flag is optional: one not given keeps the command's
/// preset or the value of the run being resumed. A flag takes one value (`--log-var-min -8` included),
/// `--corpus` every value up to the next flag, a boolean setting's flag none.
struct SettingOptions: ParsableArguments {
    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("Model and training flags (listed below).", visibility: .hidden))
    var words: [String] = []

    /// A given flag: the setting and the text of its value.
    enum Given {
        case model(AnySetting<ModelConfig>, String)
        case training(AnySetting<TrainingOptions>, String)

        var key: String {
            switch self {
            case let .model(s, _): return s.key
            case let .training(s, _): return s.key
            }
        }
        var flag: String {
            switch self {
            case let .model(s, _): return "--" + (s.flag ?? s.key)
            case let .training(s, _): return "--" + (s.flag ?? s.key)
            }
        }
    }

    /// The flags given, in order, each checked against its table (an unknown flag or a value that does
    /// not parse is a flag error, exit 64).
    func given() throws -> [Given] {
        var out: [Given] = []
        var i = 0
        while i < words.count {
            let word = words[i]
            guard word.hasPrefix("--") else {
                throw ValidationError("unexpected argument \(UntrustedText.quoted(word)) (see --help)")
            }
            var name = String(word.dropFirst(2)), inline: String?
            if let eq = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            i += 1
            func value(_ takes: Bool, many: Bool = false) throws -> String {
                guard takes else {
                    if inline != nil { throw ValidationError("--\(name) takes no value") }
                    return "true"
                }
                if let inline { return inline }
                guard i < words.count else { throw ValidationError("--\(name) needs a value") }
                var parts = [words[i]]
                i += 1
                while many, i < words.count, !words[i].hasPrefix("--") {
                    parts.append(words[i])
                    i += 1
                }
                // `--corpus a b`: paths are kept whole (a comma may be part of one), one per line.
                return parts.joined(separator: many ? "\n" : ",")
            }
            if let s = ModelConfig.settings.first(where: { $0.flag == name }) {
                let text = try value(s.takesValue)
                var probe = ModelConfig()
                guard s.apply(text, to: &probe) else { throw Self.bad(name, text, s.valueName) }
                out.append(.model(s, text))
            } else if let s = TrainingOptions.settings.first(where: { $0.flag == name }) {
                let text = try value(s.takesValue, many: s.key == Self.corpusKey)
                var probe = TrainingOptions()
                guard s.apply(text, to: &probe) else { throw Self.bad(name, text, s.valueName) }
                out.append(.training(s, text))
            } else {
                throw ValidationError("unknown option '--\(UntrustedText.shown(name))' (see --help)")
            }
        }
        return out
    }

    /// The one setting whose flag takes several values (paths, each kept whole).
    static let corpusKey = "corpus"

    static func bad(_ name: String, _ text: String, _ values: String) -> ValidationError {
        ValidationError("--\(name) takes \(values), not \(UntrustedText.quoted(text))")
    }

    /// `model` and `training` with every given flag applied.
    func applied(model: ModelConfig = ModelConfig(), training: TrainingOptions = TrainingOptions()) throws
        -> (model: ModelConfig, training: TrainingOptions) {
        var m = model, t = training
        for g in try given() {
            switch g {
            case let .model(s, text): _ = s.apply(text, to: &m)
            case let .training(s, text) where s.key == Self.corpusKey:
                t.corpus = text.split(separator: "\n").map(String.init)
            case let .training(s, text): _ = s.apply(text, to: &t)
            }
        }
        return (m, t)
    }

    /// The given flags as command-line arguments (to start `idamoe train` with them).
    func arguments() throws -> [String] {
        try given().flatMap { g -> [String] in
            switch g {
            case let .model(s, text): return s.takesValue ? [g.flag, text] : [g.flag]
            case let .training(s, text):
                if s.key == Self.corpusKey { return [g.flag] + text.split(separator: "\n").map(String.init) }
                return s.takesValue ? [g.flag, text] : [g.flag]
            }
        }
    }

    /// The help block of the settings: one line per flag with its values and default, from the tables.
    /// Lines are wrapped at 78 columns with a hanging indent, so ArgumentParser does not wrap them again.
    static func help(model: Bool = true, training: Bool = true) -> String {
        let indent = 30, width = 78
        func wrapped(_ text: String) -> String {
            var lines: [String] = [], line = ""
            for word in text.split(separator: " ") {
                if !line.isEmpty && line.count + 1 + word.count > width - indent {
                    lines.append(line)
                    line = ""
                }
                line += (line.isEmpty ? "" : " ") + word
            }
            lines.append(line)
            return lines.joined(separator: "\n" + String(repeating: " ", count: indent))
        }
        func rows<R>(_ settings: [AnySetting<R>], _ defaults: R, title: String) -> String {
            let lines = settings.compactMap { s -> String? in
                guard let flag = s.flag else { return nil }
                let head = "  --\(flag)" + (s.takesValue ? " <\(s.valueName)>" : "")
                let shown = s.text(in: defaults)
                let text = wrapped(s.summary + (s.takesValue && !shown.isEmpty ? " (default: \(shown))" : "") + ".")
                return head.count < indent ? head.padding(toLength: indent, withPad: " ", startingAt: 0) + text
                    : head + "\n" + String(repeating: " ", count: indent) + text
            }
            return title + "\n" + lines.joined(separator: "\n")
        }
        var parts: [String] = []
        if model { parts.append(rows(ModelConfig.settings, ModelConfig(), title: "MODEL (run.json \"model\"):")) }
        if training { parts.append(rows(TrainingOptions.settings, TrainingOptions(), title: "TRAINING (run.json \"training\"):")) }
        return parts.joined(separator: "\n\n")
    }
}

/// The flag of each `ModelConfig` and `TrainingOptions` field (run.json's keys), from the settings
/// tables, so library errors, which name fields, reach the user naming the flag to change.
enum SettingFlags {
    static let flags: [String: String] = {
        var out: [String: String] = [:]
        for s in ModelConfig.settings { if let f = s.flag { out[s.key] = "--" + f } }
        for s in TrainingOptions.settings { if let f = s.flag { out[s.key] = "--" + f } }
        return out
    }()

    /// Runs `body`, turning a library error about a field into one about its flag.
    static func naming<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let SettingError.invalidSetting(key, problem) {
            let name = flags[key] ?? "\(key) (a setting without a flag)"
            throw ValidationError("\(name) \(problem)")
        }
    }
}
