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

    /// The scale to apply, or nil when the norm is within bounds (or not finite, which the caller should report).
    public static func factor(norm: Double, maxNorm: Double) -> Float? {
        guard norm.isFinite, norm > maxNorm else { return nil }
        return Float(maxNorm / (norm + 1e-6))
    }

    /// The sum of squares of each gradient `visit` reaches, in visit order, over `context`'s workers
    /// (whole tensors per worker: the values do not depend on the thread count).
    public static func sumsOfSquares(context: NumericContext, visit: (ParameterVisitor) -> Void) -> [Double] {
        var boxes: [FloatBox] = []
        visit { _, _, _, grad in boxes.append(FloatBox.take(&grad)) }
        let sums = SumsOfSquares(count: boxes.count)
        let tensors = boxes
        TensorPass.forEach(sizes: boxes.map(\.array.count), context: context) { t in
            sums.set(t, tensors[t].array.withUnsafeBufferPointer { sumOfSquares($0.baseAddress, $0.count) })
        }
        var index = 0
        visit { _, _, _, grad in
            tensors[index].give(to: &grad)
            index += 1
        }
        return sums.values
    }

    /// Sum of squares, accumulated in float blocks of 256 and added up in double.
    public static func sumOfSquares(_ g: [Float]) -> Double {
        g.withUnsafeBufferPointer { sumOfSquares($0.baseAddress, $0.count) }
    }

    /// Sum of squares of n values, accumulated in float blocks of 256 and added up in double.
    public static func sumOfSquares(_ p: UnsafePointer<Float>?, _ n: Int) -> Double {
        guard let p else { return 0 }
        var total = 0.0
        var start = 0
        while start < n {
            let end = min(n, start + 256)
            var partial: Float = 0
            for i in start..<end { partial += p[i] * p[i] }
            total += Double(partial)
            start = end
        }
        return total
    }

    /// g *= scale in place.
    static func scaleInPlace(_ g: inout [Float], by scale: Float) {
        g.withUnsafeMutableBufferPointer { p in
            for i in p.indices { p[i] *= scale }
        }
    }
}

/// Per-tensor results written by the workers of a `TensorPass`, each to its own slots (raw storage:
/// workers write disjoint elements without touching a shared Swift array).
public final class SumsOfSquares: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<Double>

    public init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: 0)
    }

    deinit { slots.deallocate() }

    public func set(_ t: Int, _ value: Double) { slots[t] = value }

    public var values: [Double] { Array(slots) }
}
