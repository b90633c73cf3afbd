import IdaFormats
import IdaNumerics

/// The routers of every MoE layer of a checkpoint, loaded and checked against the file contract.
public struct RouterCheckpoint: Sendable {
    /// What the metadata says.
    public var info: CheckpointInfo
    /// Router per MoE block index.
    public var routers: [Int: LayerRouter]

    /// Routers built in memory.
    public init(info: CheckpointInfo, routers: [Int: LayerRouter]) {
        self.info = info
        self.routers = routers
    }

    /// Loads the routers from an opened safetensors file; every tensor is shape- and finiteness-checked.
    public init(file: SafetensorsFile) throws {
        let info = try CheckpointInfo(file: file)
        var routers: [Int: LayerRouter] = [:]
        var reader = TensorReader(file: file)
        for i in info.moeLayers {
            let prefix = "layers.\(i).router"
            let config = info.config(layer: i)
            switch info.router {
            case .recorded:
                // No tensors: the decisions are the probe's (`layers.{i}.experts`).
                routers[i] = .recorded(RecordedRouter(experts: config.experts, topK: config.topK))
            case .softmax:
                let gate = try reader.linear("\(prefix).gate", inputs: nil, outputs: config.experts)
                // An optional selection bias on the probabilities or logits (Ernie 4.5's e_score_correction_bias).
                let bias = file.info("\(prefix).expert_bias") == nil ? [] : try reader.floats("\(prefix).expert_bias", shape: [config.experts])
                routers[i] = .softmax(try Self.wrap(file.path, prefix) {
                    try SoftmaxRouter(gate: gate, topK: config.topK, selectionBias: bias, gateOptions: info.gate)
                })
            case .sigmoidBias:
                let gate = try reader.linear("\(prefix).gate", inputs: nil, outputs: config.experts)
                let bias = try reader.floats("\(prefix).expert_bias", shape: [config.experts])
                routers[i] = .softmax(try Self.wrap(file.path, prefix) {
                    try SoftmaxRouter(gate: gate, topK: config.topK, scoring: .sigmoid, selectionBias: bias, gateOptions: info.gate)
                })
            case .ida:
                let encoder = try reader.stack("\(prefix).encoder", activation: config.activation)
                let decoder = try reader.stack("\(prefix).decoder", activation: config.activation)
                let k = config.components, p = config.latentDim
                guard encoder.outputs == p else {
                    throw RoutingError.shapeMismatch(path: file.path, tensor: "\(prefix).encoder.\(encoder.layers.count - 1).weight",
                                                     expected: "[\(p), *] (latent_dim \(p))",
                                                     found: [encoder.outputs, encoder.layers.last?.inputs ?? 0])
                }
                guard decoder.inputs == p, decoder.outputs == encoder.inputs else {
                    throw RoutingError.shapeMismatch(path: file.path, tensor: "\(prefix).decoder.0.weight",
                                                     expected: "a stack from \(p) back to \(encoder.inputs)",
                                                     found: [decoder.inputs, decoder.outputs])
                }
                let logits = try reader.floats("\(prefix).gmm.logits", shape: [k])
                let means = try reader.floats("\(prefix).gmm.means", shape: [k, p])
                let logVars = try reader.floats("\(prefix).gmm.log_vars", shape: [k, p])
                let gmm = DiagonalGMM(logits: logits, means: Matrix(rows: k, cols: p, data: means),
                                      logVars: Matrix(rows: k, cols: p, data: logVars),
                                      logVarMin: config.logVarMin, logVarMax: config.logVarMax,
                                      priorGroups: config.priorGroups)
                routers[i] = .ida(try Self.wrap(file.path, prefix) {
                    try IDARouter(config: config, encoder: encoder, decoder: decoder, gmm: gmm)
                })
            }
        }
        self.info = info
        self.routers = routers
    }

    /// Opens and loads `path`.
    public init(path: String) throws {
        let file = try readingFormat { try SafetensorsFile(path: path) }
        try self.init(file: file)
    }

    /// The router tensors under the contract's names, ready for `SafetensorsWriter`.
    public func tensors() -> [(name: String, shape: [Int], values: [Float])] {
        var out: [(name: String, shape: [Int], values: [Float])] = []
        for i in info.moeLayers {
            guard var router = routers[i] else { continue }
            let collect: ParameterVisitor = { name, shape, value, _ in
                out.append((name: "layers.\(i).router.\(name)", shape: shape, values: value))
            }
            switch router {
            case var .ida(r):
                r.visitParameters(collect)
                router = .ida(r)
            case var .softmax(r):
                r.visitParameters(collect)
                router = .softmax(r)
            case .recorded:
                continue
            }
        }
        return out
    }

    /// Writes the routers and metadata (plus `extra` metadata) atomically to `path`.
    public func write(to path: String, extraMetadata: [String: String] = [:]) throws {
        var writer = SafetensorsWriter()
        writer.metadata = info.metadata.merging(extraMetadata) { current, _ in current }
        for t in tensors() { try writer.add(t.name, shape: t.shape, floats: t.values) }
        try writer.write(to: path)
    }

    /// Runs a router constructor, reporting its shape or option errors against the file and layer.
    private static func wrap<T>(_ path: String, _ prefix: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as NumericsError {
            throw RoutingError.badMetadata(path: path, key: prefix, problem: error.description)
        }
    }
}
