import Foundation
import IdaFormats
import IdaNumerics

/// Which router a checkpoint holds (`idamoe.router`).
public enum RouterKind: String, NamedChoice {
    /// The IDA router (autoencoder + GMM).
    case ida
    /// A softmax gate.
    case softmax
    /// A sigmoid gate with a per-expert selection bias moved toward balance after each step, no
    /// auxiliary loss (DeepSeek-V3's auxiliary-loss-free balancing).
    case sigmoidBias = "sigmoid-bias"
    /// Decisions another program recorded (no router weights; the probe holds the experts each token
    /// went to): imports of Megatron, SGLang and vLLM records. Not a router idamoe trains.
    case recorded

    /// The linear gate's scoring (nil for IDA and recorded decisions).
    public var gateScoring: GateScoring? {
        switch self {
        case .ida, .recorded: return nil
        case .softmax: return .softmax
        case .sigmoidBias: return .sigmoid
        }
    }

    /// Whether `idamoe train` can train this kind of router.
    public var trainable: Bool { self != .recorded }
}

/// What a checkpoint's `__metadata__` says about its routers.
public struct CheckpointInfo: Sendable, Equatable {
    /// Router kind.
    public var router: RouterKind
    /// Transformer block indices that hold a MoE layer.
    public var moeLayers: [Int]
    /// Router shape and options (for softmax routers only experts and topK matter).
    public var config: RouterConfig
    /// Gate normalisation, scale and group-limited selection of softmax and sigmoid-bias routers
    /// (`idamoe.gate_normalize`, `idamoe.gate_scale`, `idamoe.expert_groups`, `idamoe.group_top_k`);
    /// `.standard` for IDA routers, which refuse these keys.
    public var gate: GateOptions
    /// Training step, when recorded.
    public var step: Int?
    /// Experts of the MoE blocks whose count differs from `config.experts` (`idamoe.layer_experts`).
    public var layerExperts: [Int: Int] = [:]

    /// The router configuration of MoE block `layer`: `config` with that block's expert count.
    public func config(layer: Int) -> RouterConfig {
        var c = config
        if let e = layerExperts[layer] { c.experts = e }
        return c
    }

    /// Metadata keys only IDA routers take.
    static let idaOnlyKeys = ["idamoe.components_per_expert", "idamoe.latent_dim", "idamoe.activation", "idamoe.expert_score",
                              "idamoe.input_norm", "idamoe.latent_norm", "idamoe.log_var_min", "idamoe.log_var_max",
                              "idamoe.gate_temperature", "idamoe.prior_mass"]

    /// Every `idamoe.` key a checkpoint may hold: the routing settings, and what snapshots carry beside
    /// them (the whole model, the vocabulary, the writer, the step, the probe a fit used).
    static let knownKeys: Set<String> = Set(idaOnlyKeys + GateKey.all + [
        "idamoe.format", "idamoe.router", "idamoe.moe_layers", "idamoe.experts", "idamoe.top_k", "idamoe.layer_experts",
        "idamoe.step", "idamoe.model", "idamoe.vocab", "idamoe.producer", "idamoe.fit_probe",
    ])

    /// Reads and checks the metadata of `file`; shapes are checked later against the tensors.
    public init(file: SafetensorsFile) throws {
        let meta = file.metadata
        let path = file.path
        func value(_ key: String) throws -> String {
            guard let v = meta[key] else { throw RoutingError.badMetadata(path: path, key: key, problem: "missing") }
            return v
        }
        func integer(_ key: String, default fallback: Int? = nil) throws -> Int {
            guard let text = meta[key] else {
                if let fallback { return fallback }
                throw RoutingError.badMetadata(path: path, key: key, problem: "missing")
            }
            guard let v = Int(text.trimmingCharacters(in: .whitespaces)) else {
                throw RoutingError.badMetadata(path: path, key: key, problem: "'\(text)' is not an integer")
            }
            return v
        }
        func real<T: BinaryFloatingPoint & LosslessStringConvertible>(_ key: String, default fallback: T) throws -> T {
            guard let text = meta[key] else { return fallback }
            guard let v = T(text.trimmingCharacters(in: .whitespaces)), v.isFinite else {
                throw RoutingError.badMetadata(path: path, key: key, problem: "'\(text)' is not a finite number")
            }
            return v
        }
        func choice<T: NamedChoice>(_ key: String, default fallback: T) throws -> T {
            guard let text = meta[key] else { return fallback }
            guard let v = T(rawValue: text) else {
                throw RoutingError.badMetadata(path: path, key: key, problem: "unknown value '\(text)' (\(T.namesText))")
            }
            return v
        }
        let format = try value("idamoe.format")
        guard format == "1" else {
            throw RoutingError.badMetadata(path: path, key: "idamoe.format", problem: "version '\(format)' is not supported (this idamoe reads 1)")
        }
        let kindText = try value("idamoe.router")
        guard let kind = RouterKind(rawValue: kindText) else {
            throw RoutingError.badMetadata(path: path, key: "idamoe.router", problem: "unknown router '\(kindText)' (\(RouterKind.namesText))")
        }
        // The `idamoe.` keys are the contract: one this build does not know may change how tokens are
        // routed, so it is refused, not ignored (other names are free for a producer's own notes).
        if let key = meta.keys.sorted().first(where: { $0.hasPrefix("idamoe.") && !Self.knownKeys.contains($0) }) {
            throw RoutingError.badMetadata(path: path, key: key, problem: "is not a key of the checkpoint contract this idamoe reads "
                                           + "(docs/format.md, \"Checkpoints\"); a newer writer may need a newer idamoe")
        }
        // The IDA router's own keys mean nothing to softmax and sigmoid-bias routers: refused, not ignored
        // (as their gate options are on an IDA checkpoint).
        if kind != .ida, let key = Self.idaOnlyKeys.first(where: { meta[$0] != nil }) {
            throw RoutingError.badMetadata(path: path, key: key, problem: "applies to IDA routers only")
        }
        let layerText = try value("idamoe.moe_layers")
        var layers: [Int] = []
        for part in layerText.split(separator: ",") {
            guard let i = Int(part.trimmingCharacters(in: .whitespaces)), i >= 0 else {
                throw RoutingError.badMetadata(path: path, key: "idamoe.moe_layers", problem: "'\(layerText)' is not a list of block indices")
            }
            guard i <= SizeLimits.blockIndex else {
                throw RoutingError.badMetadata(path: path, key: "idamoe.moe_layers", problem: "block index \(i) is above \(SizeLimits.blockIndex)")
            }
            layers.append(i)
        }
        guard !layers.isEmpty, Set(layers).count == layers.count else {
            throw RoutingError.badMetadata(path: path, key: "idamoe.moe_layers", problem: "'\(layerText)' must list distinct block indices")
        }
        let experts = try integer("idamoe.experts")
        let config = RouterConfig(
            experts: experts,
            componentsPerExpert: kind == .ida ? try integer("idamoe.components_per_expert") : 1,
            latentDim: kind == .ida ? try integer("idamoe.latent_dim") : 1,
            topK: try integer("idamoe.top_k", default: 2),
            activation: try choice("idamoe.activation", default: Activation.gelu),
            expertScore: try choice("idamoe.expert_score", default: ExpertScore.max),
            inputNorm: try choice("idamoe.input_norm", default: InputNorm.none),
            latentNorm: try choice("idamoe.latent_norm", default: InputNorm.none),
            logVarMin: try real("idamoe.log_var_min", default: -.greatestFiniteMagnitude),
            logVarMax: try real("idamoe.log_var_max", default: .greatestFiniteMagnitude),
            gateTemperature: try real("idamoe.gate_temperature", default: GateTemperature.absent),
            priorMass: try choice("idamoe.prior_mass", default: PriorMass.global))
        if let problem = GateTemperature.problem(config.gateTemperature) {
            throw RoutingError.badMetadata(path: path, key: "idamoe.gate_temperature", problem: "\(config.gateTemperature) \(problem)")
        }
        func bounded(_ key: String, _ value: Int, _ limit: Int) throws {
            guard SizeLimits.within(value, limit) else {
                throw RoutingError.badMetadata(path: path, key: key, problem: "\(value) is outside 1...\(limit)")
            }
        }
        try bounded("idamoe.experts", config.experts, SizeLimits.experts)
        try bounded("idamoe.components_per_expert", config.componentsPerExpert, SizeLimits.componentsPerExpert)
        try bounded("idamoe.latent_dim", config.latentDim, SizeLimits.latentDim)
        guard let k = SizeLimits.product(config.experts, config.componentsPerExpert), k <= SizeLimits.components else {
            throw RoutingError.badMetadata(path: path, key: "idamoe.components_per_expert",
                                           problem: "E x M = \(config.experts) x \(config.componentsPerExpert) is above \(SizeLimits.components) components")
        }
        guard config.topK >= 1, config.topK <= experts else {
            throw RoutingError.badMetadata(path: path, key: "idamoe.top_k", problem: "\(config.topK) is outside 1...\(experts)")
        }
        // Per-block expert counts: E for each block of idamoe.moe_layers, in its order.
        var layerExperts: [Int: Int] = [:]
        if let text = meta["idamoe.layer_experts"] {
            let counts = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard counts.count == layers.count, counts.allSatisfy({ $0 != nil }) else {
                throw RoutingError.badMetadata(path: path, key: "idamoe.layer_experts",
                                               problem: "'\(text)' must list one expert count per block of idamoe.moe_layers (\(layers.count))")
            }
            for (block, count) in zip(layers, counts.compactMap { $0 }) {
                try bounded("idamoe.layer_experts", count, SizeLimits.experts)
                guard let k = SizeLimits.product(count, config.componentsPerExpert), k <= SizeLimits.components else {
                    throw RoutingError.badMetadata(path: path, key: "idamoe.layer_experts",
                                                   problem: "block \(block): E x M = \(count) x \(config.componentsPerExpert) is above \(SizeLimits.components) components")
                }
                guard config.topK <= count else {
                    throw RoutingError.badMetadata(path: path, key: "idamoe.top_k", problem: "\(config.topK) is above block \(block)'s \(count) experts")
                }
                if count != experts { layerExperts[block] = count }
            }
        }
        self.router = kind
        self.moeLayers = layers.sorted()
        self.config = config
        self.gate = try Self.gateOptions(meta, path: path, router: kind, experts: experts, topK: config.topK)
        self.layerExperts = layerExperts
        // Groups split every layer's experts evenly (a layer's own count from idamoe.layer_experts).
        for (layer, e) in layerExperts where e % gate.groups != 0 || e / gate.groups * gate.groupTopK < config.topK {
            throw RoutingError.badMetadata(path: path, key: "idamoe.expert_groups",
                                           problem: "\(gate.groups) groups do not fit block \(layer)'s \(e) experts with top_k \(config.topK)")
        }
        self.step = meta["idamoe.step"].flatMap { Int($0) }
    }

    /// Metadata strings for this info, as the contract spells them.
    public var metadata: [String: String] {
        var m: [String: String] = [
            "idamoe.format": "1",
            "idamoe.router": router.rawValue,
            "idamoe.moe_layers": moeLayers.map(String.init).joined(separator: ","),
            "idamoe.experts": String(config.experts),
            "idamoe.top_k": String(config.topK),
        ]
        if router == .ida {
            m["idamoe.components_per_expert"] = String(config.componentsPerExpert)
            m["idamoe.latent_dim"] = String(config.latentDim)
            m["idamoe.activation"] = config.activation.rawValue
            m["idamoe.expert_score"] = config.expertScore.rawValue
            m["idamoe.input_norm"] = config.inputNorm.rawValue
            m["idamoe.latent_norm"] = config.latentNorm.rawValue
            m["idamoe.log_var_min"] = "\(config.logVarMin)"
            m["idamoe.log_var_max"] = "\(config.logVarMax)"
            if config.gateTemperature != GateTemperature.absent { m["idamoe.gate_temperature"] = "\(config.gateTemperature)" }
            m["idamoe.prior_mass"] = config.priorMass.rawValue
        }
        m.merge(Self.gateMetadata(gate)) { current, _ in current }
        if !layerExperts.isEmpty {
            m["idamoe.layer_experts"] = moeLayers.map { String(layerExperts[$0] ?? config.experts) }.joined(separator: ",")
        }
        if let step { m["idamoe.step"] = String(step) }
        return m
    }

    /// Info built directly (for writers).
    public init(router: RouterKind, moeLayers: [Int], config: RouterConfig, step: Int?, gate: GateOptions = .standard,
                layerExperts: [Int: Int] = [:]) {
        self.router = router
        self.moeLayers = moeLayers
        self.config = config
        self.gate = gate
        self.step = step
        self.layerExperts = layerExperts.filter { $0.value != config.experts }
    }
}
