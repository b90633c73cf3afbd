import Foundation

/// The element-wise nonlinearity between Linear layers (`idamoe.activation`).
public enum Activation: String, Sendable, CaseIterable {
    /// Exact GELU, 0.5 x (1 + erf(x / sqrt 2)).
    case gelu
    /// The tanh approximation of GELU.
    case geluTanh = "gelu_tanh"
    /// max(0, x).
    case relu
    /// x * sigmoid(x).
    case silu
    /// Hyperbolic tangent.
    case tanh

    /// f(u) for one value.
    @inlinable
    public func apply(_ u: Float) -> Float {
        switch self {
        case .gelu: return VectorMath.gelu(u).value
        case .geluTanh:
            let inner = 0.7978845608028654 * (u + 0.044715 * u * u * u)
            return 0.5 * u * (1 + Foundation.tanh(inner))
        case .relu: return u > 0 ? u : 0
        case .silu: return u / (1 + Foundation.exp(-u))
        case .tanh: return Foundation.tanh(u)
        }
    }

    /// f'(u) for one value.
    @inlinable
    public func derivative(_ u: Float) -> Float {
        switch self {
        case .gelu:
            // d/du [u Phi(u)] = Phi(u) + u phi(u)
            return VectorMath.gelu(u).slope
        case .geluTanh:
            let c: Float = 0.7978845608028654
            let t = Foundation.tanh(c * (u + 0.044715 * u * u * u))
            return 0.5 * (1 + t) + 0.5 * u * (1 - t * t) * c * (1 + 3 * 0.044715 * u * u)
        case .relu: return u > 0 ? 1 : 0
        case .silu:
            let s = 1 / (1 + Foundation.exp(-u))
            return s * (1 + u * (1 - s))
        case .tanh:
            let t = Foundation.tanh(u)
            return 1 - t * t
        }
    }

    /// out[i] = f(input[i]) over whole buffers (split over cores when large).
    public func forward(_ input: [Float], into out: inout [Float], context: NumericContext = .serial) {
        precondition(input.count == out.count)
        let activation = self
        input.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let source = SendablePointer(src.baseAddress), target = SendableMutablePointer(dst.baseAddress)
                Parallel.forEachChunk(src.count, context: context) { range in
                    guard let s = source.pointer, let d = target.pointer else { return }
                    if activation == .gelu {
                        VectorMath.activation(.gelu, s + range.lowerBound, value: d + range.lowerBound, slope: nil, count: range.count)
                    } else {
                        for i in range { d[i] = activation.apply(s[i]) }
                    }
                }
            }
        }
    }

    /// f(u) and f'(u) together, sharing the expensive part (erf for GELU).
    @inlinable
    public func valueAndDerivative(_ u: Float) -> (Float, Float) {
        switch self {
        case .gelu:
            return VectorMath.gelu(u)
        case .silu:
            let s = 1 / (1 + Foundation.exp(-u))
            return (u * s, s * (1 + u * (1 - s)))
        case .tanh:
            let t = Foundation.tanh(u)
            return (t, 1 - t * t)
        default:
            return (apply(u), derivative(u))
        }
    }

    /// out[i] = f(input[i]) and slope[i] = f'(input[i]) in one pass, so a backward pass can multiply by
    /// the stored slope instead of evaluating f' again (split over cores when large).
    public func forward(_ input: [Float], into out: inout [Float], slope: inout [Float],
                        context: NumericContext = .serial) {
        precondition(input.count == out.count && input.count == slope.count)
        let activation = self, count = input.count
        let source = PinnedBuffer(input)
        let values = PinnedMutableBuffer(taking: &out), slopes = PinnedMutableBuffer(taking: &slope)
        defer { values.give(to: &out); slopes.give(to: &slope) }
        withPinned(source, values, slopes) {
            Parallel.forEachChunk(count, context: context) { range in
                guard let input = source.buffer.baseAddress,  // [count] u
                      let value = values.buffer.baseAddress,  // [count] f(u)
                      let slope = slopes.buffer.baseAddress   // [count] f'(u)
                else { return }
                if activation == .gelu {
                    VectorMath.activation(.gelu, input + range.lowerBound, value: value + range.lowerBound,
                                    slope: slope + range.lowerBound, count: range.count)
                } else {
                    for i in range { (value[i], slope[i]) = activation.valueAndDerivative(input[i]) }
                }
            }
        }
    }

    /// values[i] = f(values[i]) in place (split over cores when large).
    public func applyInPlace(_ values: inout [Float], context: NumericContext = .serial) {
        let activation = self
        values.withUnsafeMutableBufferPointer { v in
            let target = SendableMutablePointer(v.baseAddress)
            Parallel.forEachChunk(v.count, context: context) { range in
                guard let d = target.pointer else { return }
                if activation == .gelu {
                    VectorMath.activation(.gelu, d + range.lowerBound, value: d + range.lowerBound, slope: nil, count: range.count)
                } else {
                    for i in range { d[i] = activation.apply(d[i]) }
                }
            }
        }
    }

    /// values[i] = f(values[i]) and slope[i] = f'(values[i]) in one pass, in place (no copy of the
    /// pre-activations is made or kept); `slope` must have the same length.
    public func forwardInPlace(_ values: inout [Float], slope: inout [Float], context: NumericContext = .serial) {
        precondition(values.count == slope.count)
        let activation = self
        values.withUnsafeMutableBufferPointer { v in
            slope.withUnsafeMutableBufferPointer { der in
                let target = SendableMutablePointer(v.baseAddress), slopes = SendableMutablePointer(der.baseAddress)
                Parallel.forEachChunk(v.count, context: context) { range in
                    guard let d = target.pointer, let g = slopes.pointer else { return }
                    if activation == .gelu {
                        VectorMath.activation(.gelu, d + range.lowerBound, value: d + range.lowerBound, slope: g + range.lowerBound,
                                        count: range.count)
                    } else {
                        for i in range { (d[i], g[i]) = activation.valueAndDerivative(d[i]) }
                    }
                }
            }
        }
    }

    /// grad[i] *= slope[i], with slopes stored by `forward(_:into:slope:)`.
    public static func multiply(_ grad: inout [Float], bySlope slope: [Float], context: NumericContext = .serial) {
        precondition(grad.count == slope.count)
        slope.withUnsafeBufferPointer { src in
            grad.withUnsafeMutableBufferPointer { g in
                let source = SendablePointer(src.baseAddress), target = SendableMutablePointer(g.baseAddress)
                Parallel.forEachChunk(src.count, minimum: 1 << 17, context: context) { range in
                    guard let s = source.pointer, let d = target.pointer else { return }
                    for i in range { d[i] *= s[i] }
                }
            }
        }
    }

    /// grad[i] *= f'(preActivation[i]): the backward pass through the nonlinearity (split over cores when large).
    public func backward(preActivation: [Float], grad: inout [Float], context: NumericContext = .serial) {
        precondition(preActivation.count == grad.count)
        let activation = self
        preActivation.withUnsafeBufferPointer { src in
            grad.withUnsafeMutableBufferPointer { g in
                let source = SendablePointer(src.baseAddress), target = SendableMutablePointer(g.baseAddress)
                Parallel.forEachChunk(src.count, context: context) { range in
                    guard let s = source.pointer, let d = target.pointer else { return }
                    for i in range { d[i] *= activation.derivative(s[i]) }
                }
            }
        }
    }
}

/// A read-only pointer handed to worker threads that touch disjoint ranges.
struct SendablePointer<T>: @unchecked Sendable {
    let pointer: UnsafePointer<T>?
    init(_ pointer: UnsafePointer<T>?) { self.pointer = pointer }
}

/// A mutable pointer handed to worker threads that write disjoint ranges.
struct SendableMutablePointer<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>?
    init(_ pointer: UnsafeMutablePointer<T>?) { self.pointer = pointer }
}
