import IdaFormats
import IdaNumerics

/// Reads named float tensors from a checkpoint with shape and finiteness checks that name the tensor.
struct TensorReader {
    let file: SafetensorsFile

    /// The values of `name`, which must exist with exactly `shape` (nil entries match any size).
    func floats(_ name: String, shape: [Int?]) throws -> [Float] {
        guard let info = file.info(name) else { throw RoutingError.missingTensor(path: file.path, tensor: name) }
        let matches = info.shape.count == shape.count && zip(info.shape, shape).allSatisfy { $1 == nil || $0 == $1 }
        guard matches else {
            let expected = "[" + shape.map { $0.map(String.init) ?? "*" }.joined(separator: ", ") + "]"
            throw RoutingError.shapeMismatch(path: file.path, tensor: name, expected: expected, found: info.shape)
        }
        let values = try readingFormat { try file.floats(name) }
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw RoutingError.nonFinite(path: file.path, tensor: name, index: bad)
        }
        return values
    }

    /// A Linear layer `prefix.weight` [out, in] with optional `prefix.bias` [out].
    mutating func linear(_ prefix: String, inputs: Int?, outputs: Int?) throws -> Linear {
        let wName = "\(prefix).weight"
        guard let info = file.info(wName) else { throw RoutingError.missingTensor(path: file.path, tensor: wName) }
        guard info.shape.count == 2 else {
            throw RoutingError.shapeMismatch(path: file.path, tensor: wName, expected: "[out, in]", found: info.shape)
        }
        let out = info.shape[0], inp = info.shape[1]
        for width in [out, inp] where !SizeLimits.within(width, SizeLimits.width) {
            throw RoutingError.shapeMismatch(path: file.path, tensor: wName,
                                             expected: "[out, in] with widths 1...\(SizeLimits.width)", found: info.shape)
        }
        let weight = try floats(wName, shape: [outputs ?? out, inputs ?? inp])
        var bias: [Float]? = nil
        if file.info("\(prefix).bias") != nil {
            bias = try floats("\(prefix).bias", shape: [out])
        }
        return Linear(weight: Matrix(rows: out, cols: inp, data: weight), bias: bias)
    }

    /// The stack `prefix.0`, `prefix.1`, ... up to the first missing index; widths must chain.
    mutating func stack(_ prefix: String, activation: Activation) throws -> MLP {
        var layers: [Linear] = []
        while file.info("\(prefix).\(layers.count).weight") != nil {
            let previous = layers.last?.outputs
            layers.append(try linear("\(prefix).\(layers.count)", inputs: previous, outputs: nil))
        }
        guard !layers.isEmpty else { throw RoutingError.missingTensor(path: file.path, tensor: "\(prefix).0.weight") }
        return MLP(layers: layers, activation: activation)
    }
}
