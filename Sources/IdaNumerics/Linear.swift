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
    ///
    /// With a bias, y starts as the bias in every row and the GEMM adds x W^T with beta 1: that is the
    /// same sum as adding the bias afterwards, without a zero fill, OpenBLAS's beta-0 pass and a second
    /// pass over y.
    public func forward(_ x: Matrix, context: NumericContext = .serial) -> Matrix {
        precondition(x.cols == inputs, "Linear expects \(inputs) inputs, got \(x.cols)")
        var y = startingOutput(rows: x.rows)
        gemm(x, weight, transB: true, into: &y, beta: bias == nil ? 0 : 1, context: context)
        return y
    }

    /// y [n, out] from n rows of x read in place (row-major, `inputs` wide): the same GEMM as
    /// `forward(_:)`, without x being a `Matrix` of its own.
    public func forward(rows x: UnsafePointer<Float>, count n: Int, context: NumericContext = .serial) -> Matrix {
        var y = startingOutput(rows: n)
        gemm(x, lda: inputs, m: n, k: inputs, weight, transB: true, into: &y, beta: bias == nil ? 0 : 1,
             context: context)
        return y
    }

    /// The output before the GEMM: the bias in every row, or uninitialised rows the GEMM writes whole.
    private func startingOutput(rows n: Int) -> Matrix {
        var y = Matrix(uninitializedRows: n, cols: outputs)
        guard let b = bias else { return y }
        y.data.withUnsafeMutableBufferPointer { py in
            b.withUnsafeBufferPointer { pb in
                guard let dst = py.baseAddress, let src = pb.baseAddress else { return }
                for r in 0..<n { (dst + r * pb.count).update(from: src, count: pb.count) }
            }
        }
        return y
    }

    /// Accumulates dW += dy^T x and db += sum(dy) and returns dx [N, in] (when `needInputGrad`).
    @discardableResult
    public mutating func backward(_ dy: Matrix, input x: Matrix, needInputGrad: Bool = true,
                                  context: NumericContext = .serial) -> Matrix? {
        precondition(dy.cols == outputs && dy.rows == x.rows)
        gemm(dy, transA: true, x, into: &gradWeight, beta: 1, context: context)
        if var gb = gradBias {
            gradBias = nil  // keep the buffer uniquely referenced while accumulating
            Self.addColumnSums(of: dy, into: &gb)
            gradBias = gb
        }
        guard needInputGrad else { return nil }
        var dx = Matrix(uninitializedRows: x.rows, cols: inputs)
        gemm(dy, weight, into: &dx, context: context)
        return dx
    }

    /// sums[c] += sum_r m[r, c], row by row (the inner loop over columns vectorises; the order of
    /// the additions is fixed, so the result does not depend on threads).
    static func addColumnSums(of m: Matrix, into sums: inout [Float]) {
        precondition(sums.count == m.cols)
        let width = m.cols
        m.data.withUnsafeBufferPointer { pd in
            sums.withUnsafeMutableBufferPointer { pg in
                guard let src = pd.baseAddress, let dst = pg.baseAddress else { return }
                for r in 0..<m.rows {
                    let row = src + r * width
                    for c in 0..<width { dst[c] += row[c] }
                }
            }
        }
    }

    /// Sets the gradients to zero.
    public mutating func zeroGrad() {
        gradWeight.zero()
        if let n = gradBias?.count { gradBias = [Float](repeating: 0, count: n) }
    }
}
