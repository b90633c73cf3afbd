/// Clipping of all gradients together by their global L2 norm (as torch.nn.utils.clip_grad_norm_).
public enum GradientClipping {
    /// sqrt of the sum of squares of every gradient value.
    public static func globalNorm(_ grads: [[Float]]) -> Double {
        var sum = 0.0
        for g in grads { sum += sumOfSquares(g) }
        return sum.squareRoot()
    }

    /// Scales `grads` by maxNorm / (norm + 1e-6) when the global norm exceeds `maxNorm`; returns the norm before clipping.
    @discardableResult
    public static func clip(_ grads: inout [[Float]], maxNorm: Double) -> Double {
        let norm = globalNorm(grads)
        if let scale = factor(norm: norm, maxNorm: maxNorm) {
            for i in grads.indices { scaleInPlace(&grads[i], by: scale) }
        }
        return norm
    }

    /// Clips the gradients reached by `visit` (e.g. `{ model.visitParameters($0) }`, called twice:
    /// once to measure, once to scale); returns the global norm before clipping.
    @discardableResult
    public static func clip(maxNorm: Double, visit: (ParameterVisitor) -> Void) -> Double {
        var sum = 0.0
        visit { _, _, _, grad in sum += sumOfSquares(grad) }
        let norm = sum.squareRoot()
        if let scale = factor(norm: norm, maxNorm: maxNorm) {
            visit { _, _, _, grad in scaleInPlace(&grad, by: scale) }
        }
        return norm
    }

    /// The scale to apply, or nil when the norm is within bounds (or not finite, which the caller should report).
    static func factor(norm: Double, maxNorm: Double) -> Float? {
        guard norm.isFinite, norm > maxNorm else { return nil }
        return Float(maxNorm / (norm + 1e-6))
    }

    /// Sum of squares, accumulated in float blocks of 256 and added up in double.
    static func sumOfSquares(_ g: [Float]) -> Double {
        g.withUnsafeBufferPointer { p in
            var total = 0.0
            var start = 0
            while start < p.count {
                let end = min(p.count, start + 256)
                var partial: Float = 0
                for i in start..<end { partial += p[i] * p[i] }
                total += Double(partial)
                start = end
            }
            return total
        }
    }

    /// g *= scale in place.
    static func scaleInPlace(_ g: inout [Float], by scale: Float) {
        g.withUnsafeMutableBufferPointer { p in
            for i in p.indices { p[i] *= scale }
        }
    }
}
