import CVectorMath
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

    /// The step's coefficients for one parameter.
    struct Coefficients: Sendable {
        var b1: Float, b2: Float, eps: Float, stepSize: Float, invCorrection2: Float, shrink: Float, gradScale: Float
    }

    func coefficients(learningRate: Float, decay: Bool, gradScale: Float) -> Coefficients {
        let t = Double(step)
        return Coefficients(b1: beta1, b2: beta2, eps: epsilon,
                            stepSize: learningRate / Float(1 - Foundation.pow(Double(beta1), t)),
                            invCorrection2: Float(1 / (1 - Foundation.pow(Double(beta2), t)).squareRoot()),
                            shrink: decay ? 1 - learningRate * weightDecay : 1, gradScale: gradScale)
    }

    /// The update of elements `range`; the gradient is multiplied by `gradScale` first (clipping).
    /// The loop is C compiled per vector level (VectorMath): Swift's scalar loop did not vectorise
    /// (four pointers that may alias; SIMD square roots lowered lane by lane). No contraction, so the
    /// values are the scalar formula's on every CPU.
    @inline(__always)
    static func kernel(_ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ m: UnsafeMutablePointer<Float>,
                       _ v: UnsafeMutablePointer<Float>, _ range: Range<Int>, _ c: Coefficients) {
        let lo = range.lowerBound
        VectorMath.adamW(p + lo, g + lo, m + lo, v + lo, count: range.count,
                         idamoe_adamw_coefficients(beta1: c.b1, beta2: c.b2, epsilon: c.eps, step_size: c.stepSize,
                                                   inv_correction2: c.invCorrection2, shrink: c.shrink,
                                                   grad_scale: c.gradScale))
    }

    /// Updates one parameter `value` in place from its gradient; its moments start at zero.
    /// Large tensors are split over `context`'s workers by index ranges (each element's update reads
    /// only its own state, so the result does not depend on the split).
    public mutating func update(name: String, value: inout [Float], grad: [Float], learningRate: Float, decay: Bool,
                                context: NumericContext = .serial) {
        precondition(step >= 1, "AdamW.update before beginStep()")
        let count = value.count
        precondition(grad.count == count, "\(name): gradient has \(grad.count) values, parameter \(count)")
        let c = coefficients(learningRate: learningRate, decay: decay, gradScale: 1)
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
                            Self.kernel(p, g, m, v, range, c)
                        }
                    }
                }
            }
        }
    }

    /// How one parameter is updated by `update(context:settings:visit:)`.
    public struct Setting: Sendable {
        public var learningRate: Float
        public var decay: Bool
        /// The gradient's factor (clipping), 1 for none.
        public var gradScale: Float

        public init(learningRate: Float, decay: Bool, gradScale: Float = 1) {
            self.learningRate = learningRate
            self.decay = decay
            self.gradScale = gradScale
        }
    }

    /// Updates every parameter `visit` reaches (called twice, in the same order) in one hand-off to
    /// `context`'s workers, each owning whole tensors; `setting(name, shape)` says how. The same
    /// arithmetic as `update(name:...)` element by element, so the results are the same.
    public mutating func update(context: NumericContext, setting: (String, [Int]) -> Setting,
                                visit: (ParameterVisitor) -> Void) {
        precondition(step >= 1, "AdamW.update before beginStep()")
        var values: [FloatBox] = [], grads: [FloatBox] = [], firsts: [FloatBox] = [], seconds: [FloatBox] = []
        var names: [String] = [], shapes: [[Int]] = []
        visit { name, shape, value, grad in
            let count = value.count
            precondition(grad.count == count, "\(name): gradient has \(grad.count) values, parameter \(count)")
            names.append(name)
            shapes.append(shape)
            values.append(FloatBox.take(&value))
            grads.append(FloatBox.take(&grad))
            var first = m.removeValue(forKey: name) ?? [Float](repeating: 0, count: count)
            var second = v.removeValue(forKey: name) ?? [Float](repeating: 0, count: count)
            precondition(first.count == count && second.count == count,
                         "\(name): optimizer state has \(first.count) values, parameter \(count)")
            firsts.append(FloatBox.take(&first))
            seconds.append(FloatBox.take(&second))
        }
        let plan = zip(names, shapes).map { name, shape in
            let s = setting(name, shape)
            return coefficients(learningRate: s.learningRate, decay: s.decay, gradScale: s.gradScale)
        }
        let (p, g, m1, m2, perTensor) = (values, grads, firsts, seconds, plan)
        TensorPass.forEach(sizes: values.map(\.array.count), context: context) { t in
            p[t].array.withUnsafeMutableBufferPointer { pp in
                g[t].array.withUnsafeBufferPointer { pg in
                    m1[t].array.withUnsafeMutableBufferPointer { pm in
                        m2[t].array.withUnsafeMutableBufferPointer { pv in
                            let count = pp.count
                            guard let pp = pp.baseAddress, let pg = pg.baseAddress, let pm = pm.baseAddress,
                                  let pv = pv.baseAddress else { return }
                            Self.kernel(pp, pg, pm, pv, 0..<count, perTensor[t])
                        }
                    }
                }
            }
        }
        var index = 0
        visit { _, _, value, grad in
            values[index].give(to: &value)
            grads[index].give(to: &grad)
            index += 1
        }
        for (t, name) in names.enumerated() {
            m[name] = firsts[t].array
            v[name] = seconds[t].array
        }
    }
}
