import Foundation

/// Adam with decoupled weight decay (Loshchilov and Hutter 2019), in PyTorch's formulation:
/// p *= 1 - lr wd; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
/// p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
public struct AdamW: Sendable, Equatable {
    /// Decay of the first moment.
    public var beta1: Float
    /// Decay of the second moment.
    public var beta2: Float
    /// Added to the bias-corrected RMS in the denominator.
    public var epsilon: Float
    /// Decoupled weight decay, applied to parameters updated with `decay: true`.
    public var weightDecay: Float
    /// Steps begun so far: t in the bias corrections (0 before the first `beginStep`).
    public var step: Int = 0
    /// First moments by parameter name, each as long as its parameter.
    public var m: [String: [Float]] = [:]
    /// Second moments by parameter name, each as long as its parameter.
    public var v: [String: [Float]] = [:]

    /// An optimizer with no state yet.
    public init(beta1: Float = 0.9, beta2: Float = 0.95, epsilon: Float = 1e-8, weightDecay: Float = 0.1) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    /// Advances the step counter; call once per optimisation step, before the `update` calls.
    public mutating func beginStep() { step += 1 }

    /// Updates one parameter `value` in place from its gradient; its moments start at zero.
    /// Large tensors are split over `context`'s workers by index ranges (each element's update reads
    /// only its own state, so the result does not depend on the split).
    public mutating func update(name: String, value: inout [Float], grad: [Float], learningRate: Float, decay: Bool,
                                context: NumericContext = .serial) {
        precondition(step >= 1, "AdamW.update before beginStep()")
        let count = value.count
        precondition(grad.count == count, "\(name): gradient has \(grad.count) values, parameter \(count)")
        let t = Double(step)
        let stepSize = learningRate / Float(1 - Foundation.pow(Double(beta1), t))
        let invCorrection2 = Float(1 / (1 - Foundation.pow(Double(beta2), t)).squareRoot())
        let shrink: Float = decay ? 1 - learningRate * weightDecay : 1
        let b1 = beta1, b2 = beta2, eps = epsilon
        // One dictionary access per moment per parameter; the loop runs on the stored buffers in place.
        m[name, default: [Float](repeating: 0, count: count)].withUnsafeMutableBufferPointer { pm in
            v[name, default: [Float](repeating: 0, count: count)].withUnsafeMutableBufferPointer { pv in
                precondition(pm.count == count && pv.count == count,
                             "\(name): optimizer state has \(pm.count) values, parameter \(count)")
                grad.withUnsafeBufferPointer { pg in
                    value.withUnsafeMutableBufferPointer { pp in
                        // Raw pointers: the loop has no bounds checks and vectorises (sqrtps, divps).
                        let moments = (SendableMutablePointer(pm.baseAddress), SendableMutablePointer(pv.baseAddress))
                        let gradient = SendablePointer(pg.baseAddress), parameter = SendableMutablePointer(pp.baseAddress)
                        Parallel.forEachChunk(count, context: context) { range in
                        guard let m = moments.0.pointer, let v = moments.1.pointer, let g = gradient.pointer,
                              let p = parameter.pointer else { return }
                        for i in range {
                            let gi = g[i]
                            let mi = b1 * m[i] + (1 - b1) * gi
                            let vi = b2 * v[i] + (1 - b2) * gi * gi
                            m[i] = mi
                            v[i] = vi
                            p[i] = p[i] * shrink - stepSize * mi / (vi.squareRoot() * invCorrection2 + eps)
                        }
                        }
                    }
                }
            }
        }
    }
}
