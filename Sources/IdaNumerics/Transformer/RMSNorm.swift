/// Root-mean-square normalisation with a learned gain: y = x / sqrt(mean(x^2) + eps) * weight.
public struct RMSNorm: Sendable, Equatable {
    /// Per-feature gain [D], initialised to 1.
    public var weight: [Float]
    /// Gradient of the loss with respect to `weight` [D].
    public var gradWeight: [Float]
    /// Added to the mean square before the square root.
    public var epsilon: Float

    /// What `backward` needs from `forward`.
    public struct Cache: Sendable {
        /// 1 / sqrt(mean(x^2) + eps) of each row [N].
        public var reciprocalRMS: [Float]
    }

    /// A norm of width D with unit gain.
    public init(width: Int, epsilon: Float = 1e-5) {
        self.weight = [Float](repeating: 1, count: width)
        self.gradWeight = [Float](repeating: 0, count: width)
        self.epsilon = epsilon
    }

    /// Width D.
    public var width: Int { weight.count }

    /// y [N, D] for x [N, D], and the reciprocal RMS of each row.
    public func forward(_ x: Matrix) -> (Matrix, Cache) {
        precondition(x.cols == width, "RMSNorm expects width \(width), got \(x.cols)")
        let n = x.rows, d = width, eps = epsilon
        var y = Matrix(uninitializedRows: n, cols: d)  // every row is written below
        var r = [Float].uninitialized(n)
        x.data.withUnsafeBufferPointer { px in
            weight.withUnsafeBufferPointer { pw in
                y.data.withUnsafeMutableBufferPointer { py in
                    r.withUnsafeMutableBufferPointer { pr in
                        guard let src = px.baseAddress, let w = pw.baseAddress, let dst = py.baseAddress,
                              let inverse = pr.baseAddress else { return }
                        for row in 0..<n {
                            let xr = src + row * d, yr = dst + row * d
                            let inv = 1 / (Elementwise.sumOfSquares(xr, d) / Float(d) + eps).squareRoot()
                            inverse[row] = inv
                            for c in 0..<d { yr[c] = xr[c] * inv * w[c] }
                        }
                    }
                }
            }
        }
        return (y, Cache(reciprocalRMS: r))
    }

    /// dx [N, D] for dy [N, D]; accumulates gradWeight += sum_n dy * x r.
    ///
    /// With xhat = x r: dx = r (g - xhat mean(g xhat)), g = dy * weight.
    public mutating func backward(_ dy: Matrix, input x: Matrix, cache: Cache) -> Matrix {
        precondition(dy.rows == x.rows && dy.cols == width && x.cols == width, "RMSNorm gradient shape mismatch")
        let n = x.rows, d = width
        var dx = Matrix(uninitializedRows: n, cols: d)  // every row is written below
        let w = weight
        x.data.withUnsafeBufferPointer { px in
            dy.data.withUnsafeBufferPointer { pdy in
                w.withUnsafeBufferPointer { pw in
                    gradWeight.withUnsafeMutableBufferPointer { pg in
                        dx.data.withUnsafeMutableBufferPointer { pdx in
                            guard let xs = px.baseAddress, let dys = pdy.baseAddress, let ws = pw.baseAddress,
                                  let gs = pg.baseAddress, let dxs = pdx.baseAddress else { return }
                            for row in 0..<n {
                                let xr = xs + row * d, dyr = dys + row * d, dxr = dxs + row * d
                                let inv = cache.reciprocalRMS[row]
                                // Eight partial sums, added in a fixed order, so the dot product vectorises.
                                var partial = SIMD8<Float>()
                                var c = 0
                                while c + 8 <= d {
                                    let xhat = Elementwise.load(xr, c) * inv, g = Elementwise.load(dyr, c)
                                    Elementwise.store(Elementwise.load(gs, c) + g * xhat, gs, c)
                                    partial += g * Elementwise.load(ws, c) * xhat
                                    c += 8
                                }
                                var dot = partial.sum()
                                while c < d {
                                    let xhat = xr[c] * inv
                                    gs[c] += dyr[c] * xhat
                                    dot += dyr[c] * ws[c] * xhat
                                    c += 1
                                }
                                let mean = dot / Float(d)
                                for c in 0..<d {
                                    let xhat = xr[c] * inv
                                    dxr[c] = inv * (dyr[c] * ws[c] - xhat * mean)
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }

    /// Sets the gradient to zero.
    public mutating func zeroGrad() {
        gradWeight.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }

    /// Visits `prefix.weight` [D].
    public mutating func visitParameters(prefix: String, _ body: ParameterVisitor) {
        body("\(prefix).weight", [width], &weight, &gradWeight)
    }
}
