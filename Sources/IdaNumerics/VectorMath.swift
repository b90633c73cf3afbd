import CVectorMath
import IdaBLAS
import IdaSystem

/// exp, erf and every activation (exact and tanh GELU, SiLU, tanh, ReLU) with stated error bounds, for
/// single values and over buffers.
///
/// The math lives once, in CVectorMath's header (branch-free float code: +, -, *, /, selects and
/// integer bit operations, no libm call). Single values run it as compiled for baseline x86-64. The
/// buffer loops (`activation(_:_:value:slope:count:level:)`, `expShifted`) run the same code compiled
/// for the widest instruction set the processor has (`VectorLevel.current`: 16 floats a vector with
/// AVX-512, 8 with AVX2, 4 otherwise); with FMA there, products and sums contract, which moves last
/// bits but stays inside the bounds below. A value computes to the same bits wherever it sits in a
/// buffer (the loop's tail runs the same operations one at a time), and one machine always picks the
/// same level, so results are reproducible on a machine; across machines only the bounds hold
/// (docs/decisions.md). VectorMathTests and ActivationLoopTests check every bound, at every level the
/// processor runs, against Foundation's double-precision exp, erf and tanh on dense grids, tails and
/// special values; the worst cases quoted for the tanh GELU, SiLU and tanh were measured by
/// ActivationLoopTests' opt-in exhaustive test (every float with 2^-14 <= |u| <= 128, every 97th
/// below).
public enum VectorMath {
    /// The level the buffer loops use unless told otherwise.
    public static var level: VectorLevel { VectorLevel.current }

    /// e^x. Relative error below 1 ulp (measured 0.94 ulp, 7.9e-8) wherever the result is a normal
    /// float; results below 2^-126 are within one subnormal ulp (1.4e-45) of e^x; x > 88.73 gives +inf,
    /// x < -103.98 gives 0 (-inf included), NaN gives NaN.
    @inlinable @inline(__always)
    public static func exp(_ x: Float) -> Float { idamoe_exp(x) }

    /// erf(x). Error below 1.3 ulp of erf(x) everywhere (measured 1.20 ulp, absolute 7.2e-8);
    /// erf(+-inf) = +-1, erf(-0) = -0, NaN gives NaN.
    @inlinable @inline(__always)
    public static func erf(_ x: Float) -> Float { idamoe_erf(x) }

    /// The exact GELU u Phi(u) and its slope Phi(u) + u phi(u), Phi the standard normal distribution
    /// function and phi its density. Phi is computed without cancellation in the lower tail (as
    /// erfc(-u / sqrt 2) / 2, not (1 + erf) / 2), so the value's relative error stays below
    /// (4 + 2 u^2) 6e-8 + 1e-38 / |value| (the u^2 part is the rounding of u^2 inside e^(-u^2/2));
    /// the slope's absolute error is below 2e-7 + (4 + 2 u^2) 6e-8 |slope|.
    /// gelu(-inf) = (0, 0), gelu(+inf) = (+inf, 1), NaN gives NaN.
    @inlinable @inline(__always)
    public static func gelu(_ u: Float) -> (value: Float, slope: Float) {
        var value: Float = 0, slope: Float = 0
        idamoe_gelu(u, &value, &slope)
        return (value, slope)
    }

    /// The tanh GELU 0.5 u (1 + tanh k), k = sqrt(2 / pi) (u + 0.044715 u^3), computed as u sigmoid(t),
    /// t = 2k, without the cancellation of 1 + tanh k for u < 0, and its slope. The value's relative
    /// error is below (1 + |t|) 3 ulp (measured 2.80) for u >= -10.05; the slope's error is below
    /// (1 + |t|) 4 x 2^-24 (s + |u s (1 - s) t'|), s = sigmoid(t) (measured 3.71), and below 2.6e-7
    /// absolutely. The |t| grows from the rounding of t, in the lower tail where the function is
    /// itself that sensitive to u. Further down both are within 7e-37 of the truth.
    /// gelu_tanh(+inf) = (+inf, 1), gelu_tanh(-inf) = (0, 0), NaN gives NaN.
    @inlinable @inline(__always)
    public static func geluTanh(_ u: Float) -> (value: Float, slope: Float) {
        var value: Float = 0, slope: Float = 0
        idamoe_gelu_tanh(u, &value, &slope)
        return (value, slope)
    }

    /// SiLU u sigmoid(u) and its slope s (1 + u (1 - s)), s = sigmoid(u). The value's relative error
    /// is below 2.5 ulp (measured 2.40) for u >= -88.7; the slope's error is below
    /// 4 x 2^-24 (s + |u s (1 - s)|) (measured 3.81) and below 2.3e-7 absolutely (the slope has a zero
    /// near u = -1.28). Further down both are within 3e-37 of the truth. silu(+inf) = (+inf, 1),
    /// silu(-inf) = (0, 0), NaN gives NaN.
    @inlinable @inline(__always)
    public static func silu(_ u: Float) -> (value: Float, slope: Float) {
        var value: Float = 0, slope: Float = 0
        idamoe_silu(u, &value, &slope)
        return (value, slope)
    }

    /// tanh(u) and its slope 1 - tanh^2 u (computed as (1 - tanh|u|)(1 + tanh|u|), relatively accurate
    /// in the tails). Value within 1.1 ulp (measured 1.08), slope within 3.5 ulp (measured 3.46) where
    /// it is a normal float (|u| < 43.6). tanh(+-inf) = (+-1, 0), tanh(-0) = -0, NaN gives NaN.
    @inlinable @inline(__always)
    public static func tanh(_ u: Float) -> (value: Float, slope: Float) {
        var value: Float = 0, slope: Float = 0
        idamoe_tanh(u, &value, &slope)
        return (value, slope)
    }

    /// value[i] = f(input[i]) and, when `slope` is given, slope[i] = f'(input[i]) for i < count, f the
    /// `activation` (with the bounds of the single-value functions above); `value` may be `input`
    /// (in place).
    public static func activation(_ activation: Activation, _ input: UnsafePointer<Float>,
                                  value: UnsafeMutablePointer<Float>, slope: UnsafeMutablePointer<Float>?,
                                  count: Int, level: VectorLevel = level) {
        idamoe_activation_loop(level.rawValue, Int32(activation.loopKind.rawValue), input, value, slope, count)
    }

    /// out[i] = e^(input[i] - shift) for i < count (softmax numerators); `out` may be `input`.
    public static func expShifted(_ input: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                                  shift: Float, count: Int, level: VectorLevel = level) {
        idamoe_exp_shifted_loop(level.rawValue, input, out, shift, count)
    }

    /// out[i] = e^x, x = input[i] - shift, for i < count from double log-values: the difference is
    /// taken in double and rounded to float before the float exp, so the error stays below 1 ulp of
    /// e^x plus 6e-8 |x| e^x wherever the result is a normal float (the exp's bound plus the rounding
    /// of x). Meant for shifts at least every input (softmax numerators).
    public static func expShifted(_ input: UnsafePointer<Double>, into out: UnsafeMutablePointer<Float>,
                                  shift: Double, count: Int, level: VectorLevel = level) {
        idamoe_exp_shifted_double_loop(level.rawValue, input, out, shift, count)
    }

    /// The largest of x[0..<count] (count >= 1); NaN never wins over a number.
    public static func maximum(_ x: UnsafePointer<Double>, count: Int, level: VectorLevel = level) -> Double {
        idamoe_max_double_loop(level.rawValue, x, count)
    }

    /// -sum p log2 p over the entries p > 0 (others skipped), log2 in double within 3 ulp;
    /// eight lanes added in a fixed order that depends on `count` alone.
    public static func entropyBits(_ p: UnsafePointer<Double>, count: Int, level: VectorLevel = level) -> Double {
        idamoe_entropy_bits_loop(level.rawValue, p, count)
    }

    /// For each of `groups` groups of `size` consecutive log-values: the numerators
    /// e^(input - shift) as `expShifted` over doubles, their sum in double and their largest value.
    /// A group's sum is added in a fixed order that depends on `size` alone.
    public static func expGroupSums(_ input: UnsafePointer<Double>, shift: Double, groups: Int, size: Int,
                                    numerators: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Double>,
                                    largest: UnsafeMutablePointer<Float>, level: VectorLevel = level) {
        idamoe_exp_group_sums_loop(level.rawValue, input, shift, groups, size, numerators, sums, largest)
    }

    /// AdamW over `count` elements in place with one tensor's coefficients (`AdamW.kernel`).
    static func adamW(_ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ m: UnsafeMutablePointer<Float>,
                      _ v: UnsafeMutablePointer<Float>, count: Int, _ c: idamoe_adamw_coefficients,
                      level: VectorLevel = level) {
        withUnsafePointer(to: c) { idamoe_adamw_loop(level.rawValue, p, g, m, v, count, $0) }
    }
}

extension Activation {
    /// The activation as CVectorMath's loops name it.
    var loopKind: idamoe_activation {
        switch self {
        case .gelu: return IDAMOE_ACTIVATION_GELU
        case .geluTanh: return IDAMOE_ACTIVATION_GELU_TANH
        case .relu: return IDAMOE_ACTIVATION_RELU
        case .silu: return IDAMOE_ACTIVATION_SILU
        case .tanh: return IDAMOE_ACTIVATION_TANH
        }
    }
}
