/// The element-wise nonlinearity between Linear layers (`idamoe.activation`).
public enum Activation: String, Sendable, CaseIterable {
    /// Exact GELU, 0.5 x (1 + erf(x / sqrt 2)).
    case gelu
    /// The tanh approximation of GELU, 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
    case geluTanh = "gelu_tanh"
    /// max(0, x).
    case relu
    /// x * sigmoid(x).
    case silu
    /// Hyperbolic tangent.
    case tanh

    /// f(u) for one value (VectorMath's bounds; the same bits as the generic loop).
    @inlinable
    public func apply(_ u: Float) -> Float { valueAndDerivative(u).0 }

    /// f'(u) for one value.
    @inlinable
    public func derivative(_ u: Float) -> Float { valueAndDerivative(u).1 }

    /// f(u) and f'(u) together, sharing the expensive part (erf or exp). Every activation but ReLU is
    /// VectorMath's branch-free function, whose error bounds it states.
    @inlinable
    public func valueAndDerivative(_ u: Float) -> (Float, Float) {
        switch self {
        case .gelu: return VectorMath.gelu(u)
        case .geluTanh: return VectorMath.geluTanh(u)
        case .relu: return u > 0 ? (u, 1) : (0, 0)
        case .silu: return VectorMath.silu(u)
        case .tanh: return VectorMath.tanh(u)
        }
    }

    /// out[i] = f(input[i]) over whole buffers, through the vectorised loop (split over cores when large).
    public func forward(_ input: [Float], into out: inout [Float], context: NumericContext = .serial) {
        precondition(input.count == out.count)
        let activation = self
        input.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let source = SendablePointer(src.baseAddress), target = SendableMutablePointer(dst.baseAddress)
                Parallel.forEachChunk(src.count, context: context) { range in
                    guard let s = source.pointer, let d = target.pointer else { return }
                    VectorMath.activation(activation, s + range.lowerBound, value: d + range.lowerBound, slope: nil,
                                          count: range.count)
                }
            }
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
                VectorMath.activation(activation, input + range.lowerBound, value: value + range.lowerBound,
                                      slope: slope + range.lowerBound, count: range.count)
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
                VectorMath.activation(activation, d + range.lowerBound, value: d + range.lowerBound, slope: nil,
                                      count: range.count)
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
                    VectorMath.activation(activation, d + range.lowerBound, value: d + range.lowerBound,
                                          slope: g + range.lowerBound, count: range.count)
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
                    // The loop's slopes a block at a time, in scratch space on the stack.
                    let block = 512
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * block) { scratch in
                        guard let values = scratch.baseAddress else { return }
                        let slopes = values + block
                        var start = range.lowerBound
                        while start < range.upperBound {
                            let n = min(block, range.upperBound - start)
                            VectorMath.activation(activation, s + start, value: values, slope: slopes, count: n)
                            for i in 0..<n { d[start + i] *= slopes[i] }
                            start += n
                        }
                    }
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
