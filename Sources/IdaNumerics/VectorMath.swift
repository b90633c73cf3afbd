import CVectorMath
import IdaBLAS
import IdaSystem

/// exp, erf and the exact GELU with stated error bounds, for single values and over buffers.
///
/// The math lives once, in CVectorMath's header (branch-free float code: +, -, *, /, selects and
/// integer bit operations, no libm call). Single values run it as compiled for baseline x86-64. The
/// buffer loops (`gelu(_:value:slope:count:level:)`, `expShifted`) run the same code compiled for the
/// widest instruction set the processor has (`VectorLevel.current`: 16 floats a vector with AVX-512,
/// 8 with AVX2, 4 otherwise); with FMA there, products and sums contract, which moves last bits but
/// stays inside the bounds below. A value computes to the same bits wherever it sits in a buffer (the
/// loop's tail runs the same operations one at a time), and one machine always picks the same level,
/// so results are reproducible on a machine; across machines only the bounds hold (docs/decisions.md).
/// VectorMathTests checks every bound, at every level the processor runs, against Foundation's
/// double-precision exp and erf on dense grids, tails and special values.
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

    /// value[i] = gelu(input[i]) and, when `slope` is given, slope[i] = gelu'(input[i]) for i < count;
    /// `value` may be `input` (in place).
    public static func gelu(_ input: UnsafePointer<Float>, value: UnsafeMutablePointer<Float>,
                            slope: UnsafeMutablePointer<Float>?, count: Int, level: VectorLevel = level) {
        idamoe_gelu_loop(level.rawValue, input, value, slope, count)
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
