import IdaFormats

/// Problems with checkpoints and probes found while loading or routing; one line each, naming the file
/// and the tensor or metadata key.
public enum RoutingError: Error, Equatable, CustomStringConvertible {
    /// A metadata key is missing or holds something unusable.
    case badMetadata(path: String, key: String, problem: String)
    /// A tensor the contract requires is absent.
    case missingTensor(path: String, tensor: String)
    /// A tensor has the wrong shape.
    case shapeMismatch(path: String, tensor: String, expected: String, found: [Int])
    /// A tensor holds NaN or infinity.
    case nonFinite(path: String, tensor: String, index: Int)
    /// The probe lacks hidden states for a MoE layer of the checkpoint.
    case missingLayer(path: String, layer: Int, available: [Int])
    /// A requested layer is not a MoE layer of the checkpoint.
    case unknownLayer(layer: Int, available: [Int])
    /// An option does not fit the checkpoint (for example top-k above E).
    case invalidOption(String)
    /// The file could not be read as safetensors.
    case format(SafetensorsError)

    /// One line for the user.
    public var description: String {
        switch self {
        case let .badMetadata(path, key, problem):
            return "\(path): metadata \(key): \(problem)"
        case let .missingTensor(path, tensor):
            return "\(path): missing tensor \(tensor)"
        case let .shapeMismatch(path, tensor, expected, found):
            return "\(path): tensor \(tensor) has shape \(found), expected \(expected)"
        case let .nonFinite(path, tensor, index):
            return "\(path): tensor \(tensor) holds a non-finite value at element \(index)"
        case let .missingLayer(path, layer, available):
            return "\(path): no hidden states for MoE layer \(layer) (tensor layers.\(layer).hidden); probe has layers \(available)"
        case let .unknownLayer(layer, available):
            return "layer \(layer) is not a MoE layer of this checkpoint (MoE layers: \(available))"
        case let .invalidOption(message):
            return message
        case let .format(error):
            return error.description
        }
    }
}

/// Runs `body`, turning safetensors errors into `RoutingError.format`.
func readingFormat<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as SafetensorsError {
        throw RoutingError.format(error)
    }
}
