/// A stack of Linear layers with one activation between consecutive layers (none after the last).
public struct MLP: Sendable, Equatable {
    /// The layers, applied in order.
    public var layers: [Linear]
    /// The nonlinearity between layers.
    public var activation: Activation

    /// What `backward` needs from `forward`.
    public struct Cache: Sendable {
        /// The input of each layer [N, in_j] (after the previous activation).
        public var inputs: [Matrix]
        /// The activation's slope at each layer's pre-activation output, all layers but the last [N, out_j].
        public var slopes: [[Float]]
    }

    /// A stack over existing layers; consecutive widths must chain.
    public init(layers: [Linear], activation: Activation) {
        for j in layers.indices.dropFirst() {
            precondition(layers[j].inputs == layers[j - 1].outputs, "MLP layer widths do not chain")
        }
        self.layers = layers
        self.activation = activation
    }

    /// A freshly initialised stack through the given widths, e.g. [D, 128, P].
    public init(widths: [Int], activation: Activation, rng: inout SeededGenerator) {
        precondition(widths.count >= 2, "an MLP needs at least an input and an output width")
        var layers: [Linear] = []
        for j in 0..<(widths.count - 1) {
            layers.append(Linear(inputs: widths[j], outputs: widths[j + 1], rng: &rng))
        }
        self.init(layers: layers, activation: activation)
    }

    /// Input width.
    public var inputs: Int { layers.first?.inputs ?? 0 }
    /// Output width.
    public var outputs: Int { layers.last?.outputs ?? 0 }
    /// Widths from input to output, e.g. [D, 128, P].
    public var widths: [Int] { [inputs] + layers.map(\.outputs) }

    /// The output [N, out] for x [N, in], without keeping a cache.
    public func callAsFunction(_ x: Matrix, context: NumericContext = .serial) -> Matrix {
        var h = x
        for j in layers.indices {
            h = layers[j].forward(h, context: context)
            if j < layers.count - 1 { activation.applyInPlace(&h.data, context: context) }
        }
        return h
    }

    /// The output [n, out] for n rows of x read in place (row-major, `inputs` wide), the same
    /// computation as `callAsFunction(_:)`; `inspectFirst` sees the first layer's output before its
    /// activation (where a non-finite input shows in every value of its row) and may stop the pass.
    public func callAsFunction(rows x: UnsafePointer<Float>, count n: Int, context: NumericContext = .serial,
                               inspectFirst: (Matrix) throws -> Void) rethrows -> Matrix {
        guard let first = layers.first else { return Matrix(rows: n, cols: 0) }
        var h = first.forward(rows: x, count: n, context: context)
        try inspectFirst(h)
        for j in layers.indices.dropFirst() {
            activation.applyInPlace(&h.data, context: context)
            h = layers[j].forward(h, context: context)
        }
        return h
    }

    /// The output [N, out] and the cache for `backward`.
    public func forward(_ x: Matrix, context: NumericContext = .serial) -> (Matrix, Cache) {
        var cache = Cache(inputs: [], slopes: [])
        var h = x
        for j in layers.indices {
            cache.inputs.append(h)
            h = layers[j].forward(h, context: context)
            if j < layers.count - 1 {
                var slope = [Float].uninitialized(h.data.count)
                activation.forwardInPlace(&h.data, slope: &slope, context: context)
                cache.slopes.append(slope)
            }
        }
        return (h, cache)
    }

    /// Accumulates parameter gradients for dOut [N, out]; returns dx [N, in] when `needInputGrad`.
    @discardableResult
    public mutating func backward(_ dOut: Matrix, cache: Cache, needInputGrad: Bool = true,
                                  context: NumericContext = .serial) -> Matrix? {
        var grad = dOut
        for j in layers.indices.reversed() {
            let wantInput = j > 0 || needInputGrad
            guard let dx = layers[j].backward(grad, input: cache.inputs[j], needInputGrad: wantInput, context: context) else {
                return nil
            }
            grad = dx
            if j > 0 { Activation.multiply(&grad.data, bySlope: cache.slopes[j - 1], context: context) }
        }
        return grad
    }

    /// Sets every layer's gradients to zero.
    public mutating func zeroGrad() {
        for j in layers.indices { layers[j].zeroGrad() }
    }
}
