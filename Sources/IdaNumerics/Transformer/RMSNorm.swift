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
        var y = Matrix(rows: n, cols: d)
        var r = [Float](repeating: 0, count: n)
        x.data.withUnsafeBufferPointer { px in
            weight.withUnsafeBufferPointer { pw in
                y.data.withUnsafeMutableBufferPointer { py in
                    for row in 0..<n {
                        let base = row * d
                        var sum: Float = 0
                        for c in 0..<d { sum += px[base + c] * px[base + c] }
                        let inv = 1 / (sum / Float(d) + eps).squareRoot()
                        r[row] = inv
                        for c in 0..<d { py[base + c] = px[base + c] * inv * pw[c] }
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
        var dx = Matrix(rows: n, cols: d)
        let w = weight
        x.data.withUnsafeBufferPointer { px in
            dy.data.withUnsafeBufferPointer { pdy in
                w.withUnsafeBufferPointer { pw in
                    gradWeight.withUnsafeMutableBufferPointer { pg in
                        dx.data.withUnsafeMutableBufferPointer { pdx in
                            for row in 0..<n {
                                let base = row * d
                                let inv = cache.reciprocalRMS[row]
                                var dot: Float = 0
                                for c in 0..<d {
                                    let xhat = px[base + c] * inv
                                    pg[c] += pdy[base + c] * xhat
                                    dot += pdy[base + c] * pw[c] * xhat
                                }
                                let mean = dot / Float(d)
                                for c in 0..<d {
                                    let xhat = px[base + c] * inv
                                    pdx[base + c] = inv * (pdy[base + c] * pw[c] - xhat * mean)
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
