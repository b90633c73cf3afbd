/// y = x W^T + b, a fully connected layer in PyTorch's layout (weight is [out, in]).
public struct Linear: Sendable, Equatable {
    /// Weights [out, in].
    public var weight: Matrix
    /// Bias [out], or nil for a layer without bias.
    public var bias: [Float]?
    /// Gradient of the loss with respect to `weight` [out, in].
    public var gradWeight: Matrix
    /// Gradient of the loss with respect to `bias` [out].
    public var gradBias: [Float]?

    /// A layer with the given parameters and zero gradients.
    public init(weight: Matrix, bias: [Float]?) {
        precondition(bias == nil || bias?.count == weight.rows, "bias length must equal output width")
        self.weight = weight
        self.bias = bias
        self.gradWeight = Matrix(rows: weight.rows, cols: weight.cols)
        self.gradBias = bias.map { [Float](repeating: 0, count: $0.count) }
    }

    /// A layer initialised uniformly in +-1/sqrt(in) (PyTorch's default), zero bias.
    public init(inputs: Int, outputs: Int, bias: Bool = true, rng: inout SeededGenerator) {
        let bound = 1 / Float(inputs).squareRoot()
        var w = Matrix(rows: outputs, cols: inputs)
        for i in w.data.indices { w.data[i] = rng.uniform(-bound, bound) }
        self.init(weight: w, bias: bias ? [Float](repeating: 0, count: outputs) : nil)
    }

    /// Input width.
    public var inputs: Int { weight.cols }
    /// Output width.
    public var outputs: Int { weight.rows }

    /// y [N, out] from x [N, in].
    public func forward(_ x: Matrix) -> Matrix {
        precondition(x.cols == inputs, "Linear expects \(inputs) inputs, got \(x.cols)")
        var y = Matrix(rows: x.rows, cols: outputs)
        gemm(x, weight, transB: true, into: &y)
        if let b = bias {
            y.data.withUnsafeMutableBufferPointer { py in
                b.withUnsafeBufferPointer { pb in
                    for r in 0..<x.rows {
                        let row = r * pb.count
                        for c in 0..<pb.count { py[row + c] += pb[c] }
                    }
                }
            }
        }
        return y
    }

    /// Accumulates dW += dy^T x and db += sum(dy) and returns dx [N, in] (when `needInputGrad`).
    @discardableResult
    public mutating func backward(_ dy: Matrix, input x: Matrix, needInputGrad: Bool = true) -> Matrix? {
        precondition(dy.cols == outputs && dy.rows == x.rows)
        gemm(dy, transA: true, x, into: &gradWeight, beta: 1)
        if var gb = gradBias {
            gradBias = nil  // keep the buffer uniquely referenced while accumulating
            let width = outputs
            dy.data.withUnsafeBufferPointer { pd in
                gb.withUnsafeMutableBufferPointer { pg in
                    for r in 0..<dy.rows {
                        for c in 0..<width { pg[c] += pd[r * width + c] }
                    }
                }
            }
            gradBias = gb
        }
        guard needInputGrad else { return nil }
        var dx = Matrix(rows: x.rows, cols: inputs)
        gemm(dy, weight, into: &dx)
        return dx
    }

    /// Sets the gradients to zero.
    public mutating func zeroGrad() {
        gradWeight.zero()
        if let n = gradBias?.count { gradBias = [Float](repeating: 0, count: n) }
    }
}
