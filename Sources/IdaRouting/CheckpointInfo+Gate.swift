import Foundation
import IdaNumerics

/// The metadata keys of `GateOptions` (docs/format.md, "Checkpoints").
enum GateKey {
    static let normalize = "idamoe.gate_normalize"
    static let scale = "idamoe.gate_scale"
    static let groups = "idamoe.expert_groups"
    static let groupTopK = "idamoe.group_top_k"
    static let groupScore = "idamoe.group_score"
    static let biasOn = "idamoe.selection_bias_on"
    static let all = [normalize, scale, groups, groupTopK, groupScore, biasOn]

    /// The key that holds a field.
    static func key(_ field: GateOptions.Field) -> String {
        switch field {
        case .scale: return scale
        case .groups: return groups
        case .groupTopK: return groupTopK
        }
    }
}

extension CheckpointInfo {
    /// Reads the gate options; each absent key keeps its default, each bad one is an error naming it.
    /// IDA routers take none of these keys (their gates are always the renormalised posteriors).
    static func gateOptions(_ meta: [String: String], path: String, router: RouterKind, experts: Int,
                            topK: Int) throws -> GateOptions {
        if router == .ida || router == .recorded {
            if let key = GateKey.all.first(where: { meta[$0] != nil }) {
                throw RoutingError.badMetadata(path: path, key: key, problem: "applies to softmax and sigmoid-bias routers only")
            }
            return .standard
        }
        func text(_ key: String) -> String? { meta[key]?.trimmingCharacters(in: .whitespaces) }
        var options = GateOptions.standard
        if let v = text(GateKey.normalize) {
            guard let flag = ["true": true, "false": false][v] else {
                throw RoutingError.badMetadata(path: path, key: GateKey.normalize, problem: "'\(v)' is not true or false")
            }
            options.normalize = flag
        }
        if let v = text(GateKey.scale) {
            guard let scale = Float(v) else {
                throw RoutingError.badMetadata(path: path, key: GateKey.scale, problem: "'\(v)' is not a number")
            }
            options.scale = scale
        }
        func integer(_ key: String) throws -> Int? {
            guard let v = text(key) else { return nil }
            guard let n = Int(v) else { throw RoutingError.badMetadata(path: path, key: key, problem: "'\(v)' is not an integer") }
            return n
        }
        if let groups = try integer(GateKey.groups) {
            options.groups = groups
            options.groupTopK = groups
        }
        if let kept = try integer(GateKey.groupTopK) { options.groupTopK = kept }
        if let v = text(GateKey.groupScore) {
            guard let score = GateOptions.GroupScore(rawValue: v) else {
                throw RoutingError.badMetadata(path: path, key: GateKey.groupScore, problem: "'\(v)' is not top2sum or max")
            }
            options.groupScore = score
        }
        if let v = text(GateKey.biasOn) {
            guard let target = GateOptions.BiasTarget(rawValue: v) else {
                throw RoutingError.badMetadata(path: path, key: GateKey.biasOn, problem: "'\(v)' is not scores or logits")
            }
            options.biasOn = target
        }
        if let problem = options.problem(experts: experts, topK: topK) {
            throw RoutingError.badMetadata(path: path, key: GateKey.key(problem.field), problem: problem.message)
        }
        return options
    }

    /// The metadata of gate options that differ from the defaults (none for `.standard`, so files
    /// without these options stay as they were).
    static func gateMetadata(_ options: GateOptions) -> [String: String] {
        var m: [String: String] = [:]
        if !options.normalize { m[GateKey.normalize] = "false" }
        if options.scale != 1 { m[GateKey.scale] = "\(options.scale)" }
        if options.groups != 1 {
            m[GateKey.groups] = String(options.groups)
            m[GateKey.groupTopK] = String(options.groupTopK)
        }
        if options.groupScore != .topTwoSum { m[GateKey.groupScore] = options.groupScore.rawValue }
        if options.biasOn != .scores { m[GateKey.biasOn] = options.biasOn.rawValue }
        return m
    }
}
