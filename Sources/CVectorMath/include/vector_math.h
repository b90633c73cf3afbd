// exp, erf and the activations (exact and tanh GELU, SiLU, tanh, ReLU) as branch-free float code, and
// loops over buffers compiled once per
// instruction-set level (baseline x86-64, AVX2 + FMA, AVX-512) so the caller picks the widest one the
// processor runs (IdaBLAS's CPUFeatures decides; IdaNumerics' VectorMath is the Swift face).
//
// The scalar functions below are the one definition of the math: Swift calls them for single values
// (they are `static inline`, so the compiler inlines them into Swift loops too) and the loops in
// vector_math.c are these functions inlined into code built for each level. Error bounds are stated
// and tested in Tests/IdaNumericsTests/VectorMathTests.swift; with FMA (the AVX2 and AVX-512 levels)
// products and sums contract, which moves last bits but stays inside the same bounds.
//
// Coefficients were fitted by iteratively reweighted least squares (Lawson's minimax method) against
// 30-digit mpmath references on 3,000 Chebyshev nodes, rounded to float; the bounds were re-measured
// with the rounded coefficients in float arithmetic.
#ifndef IDAMOE_VECTOR_MATH_H
#define IDAMOE_VECTOR_MATH_H

#include <stdint.h>

/// Instruction-set levels the loops are compiled for.
typedef enum {
    /// Baseline x86-64 (SSE2) or any other CPU: what the compiler's default target gives.
    IDAMOE_VECTOR_GENERIC = 0,
    /// AVX2 and FMA, 8 floats a vector.
    IDAMOE_VECTOR_AVX2 = 1,
    /// AVX-512 F/BW/DQ/VL, 16 floats a vector.
    IDAMOE_VECTOR_AVX512 = 2,
} idamoe_vector_level;

/// 1 when this build has loops for `level` (AVX2 and AVX-512 exist only on x86-64); the caller must
/// still check that the processor runs it.
int idamoe_vector_level_compiled(int level);

static inline float idamoe_float_from_bits(uint32_t bits) {
    float f;
    __builtin_memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint32_t idamoe_bits_from_float(float f) {
    uint32_t bits;
    __builtin_memcpy(&bits, &f, sizeof bits);
    return bits;
}

/// |x| (sign bit cleared).
static inline float idamoe_magnitude(float x) {
    return idamoe_float_from_bits(idamoe_bits_from_float(x) & 0x7FFFFFFFu);
}

/// e^x. Relative error below 1 ulp (measured 0.94 ulp) wherever the result is a normal float; results
/// below 2^-126 within one subnormal ulp of e^x; x > 88.73 gives +inf, x < -103.98 gives 0 (-inf
/// included), NaN gives NaN.
///
/// Cody-Waite reduction x = n ln 2 + r with |r| <= ln 2 / 2, e^r = 1 + r + r^2 P(r) with P of degree 5,
/// then scaling by 2^n in two halves so neither factor overflows or goes subnormal.
static inline float idamoe_exp(float x) {
    float clamped = x < -105.0f ? -105.0f : x;
    clamped = clamped > 89.0f ? 89.0f : clamped;
    // n = round(x / ln 2) by adding and removing 1.5 * 2^23; the low bits of `shifted` then hold n.
    float shifted = clamped * 1.4426950408889634f + 12582912.0f;
    float n = shifted - 12582912.0f;
    float r = clamped - n * 0.693359375f;
    r = r - n * -2.1219444e-4f;
    float p = 1.9907572e-4f;
    p = p * r + 1.3933643e-3f;
    p = p * r + 8.3332863e-3f;
    p = p * r + 4.1666467e-2f;
    p = p * r + 0.16666667f;
    p = p * r + 0.5f;
    p = (r * r) * p + r + 1.0f;
    int32_t exponent = (int32_t)idamoe_bits_from_float(shifted) - 0x4B400000;
    // p 2^n rounded once. Normal results (n >= -125, p > 0.7): p times two exact powers of two.
    int32_t safe = exponent < -125 ? -125 : exponent;
    int32_t half = safe >> 1;
    float scale1 = idamoe_float_from_bits((uint32_t)(half + 127) << 23);
    float scale2 = idamoe_float_from_bits((uint32_t)(safe - half + 127) << 23);
    float normal = p * scale1 * scale2;
    // Subnormal results (n <= -126) without subnormal arithmetic, which costs a microcode assist on
    // x86 for every vector holding one: the result's bits are the integer nearest p 2^(n + 149), ties
    // to even, the same rounding the product would make. q < 2^23 is rounded by adding and removing
    // 2^23; a q at or above 2^23 is already an integer.
    int32_t low = exponent > -126 ? -126 : exponent;
    float q = p * idamoe_float_from_bits((uint32_t)(low + 149 + 127) << 23);
    float whole = q < 8388608.0f ? (q + 8388608.0f) - 8388608.0f : q;
    float tiny = idamoe_float_from_bits((uint32_t)(int32_t)whole);
    float result = exponent < -125 ? tiny : normal;
    return x != x ? x : result;
}

/// Where erf switches from the odd polynomial to the complementary form.
#define IDAMOE_ERF_SMALL_LIMIT 0.9277f

/// x + x P(x^2): erf for |x| < 0.9277.
static inline float idamoe_erf_small(float x) {
    float s = x * x;
    float p = -5.9873733e-4f;
    p = p * s + 4.9930145e-3f;
    p = p * s - 2.6766934e-2f;
    p = p * s + 0.1128184f;
    p = p * s - 0.37612498f;
    p = p * s + 0.12837915f;
    return x + x * p;
}

/// erfc(|x|) = e^(-x^2) R(1/|x|) for |x| >= 0.9277, given e^(-x^2): R of degree 9 on [1/4, 1/0.9277]
/// and of degree 6 on [0, 1/4]; both are evaluated and one selected, so loops have no branch.
static inline float idamoe_erf_complement(float x, float exp_minus_square) {
    float a = idamoe_magnitude(x);
    float v = 1.0f / a;
    float r = 2.0901928e-2f;
    r = r * v - 0.12622966f;
    r = r * v + 0.3118543f;
    r = r * v - 0.36725757f;
    r = r * v + 9.587649e-2f;
    r = r * v + 0.30784622f;
    r = r * v - 0.4031056f;
    r = r * v + 2.6509639e-2f;
    r = r * v + 0.56102717f;
    r = r * v + 1.6066889e-4f;
    float t = -0.45117286f;
    t = t * v + 0.50775254f;
    t = t * v - 7.956145e-3f;
    t = t * v - 0.28174028f;
    t = t * v - 5.9259446e-6f;
    t = t * v + 0.5641896f;
    t = t * v - 3.7808874e-15f;
    return exp_minus_square * (a > 4.0f ? t : r);
}

/// erf(x). Error below 1.3 ulp of erf(x) everywhere (measured 1.20 ulp); erf(+-inf) = +-1,
/// erf(-0) = -0, NaN gives NaN.
static inline float idamoe_erf(float x) {
    float tail = idamoe_erf_complement(x, idamoe_exp(-(x * x)));
    float big = x < 0.0f ? tail - 1.0f : 1.0f - tail;
    float result = idamoe_magnitude(x) >= IDAMOE_ERF_SMALL_LIMIT ? big : idamoe_erf_small(x);
    return x != x ? x : result;
}

/// The exact GELU u Phi(u) into *value and its slope Phi(u) + u phi(u) into *slope. Phi is computed
/// without cancellation in the lower tail (as erfc(-u / sqrt 2) / 2), so the value's relative error
/// stays below (4 + 2 u^2) 6e-8 + 1e-38 / |value|; the slope's absolute error is below
/// 2e-7 + (4 + 2 u^2) 6e-8 |slope|. gelu(-inf) = (0, 0), gelu(+inf) = (+inf, 1), NaN gives NaN.
static inline void idamoe_gelu(float u, float *value, float *slope) {
    float x = u * 0.70710678118654752f;
    float density = idamoe_exp(u * u * -0.5f);  // e^(-x^2), sqrt(2 pi) phi(u)
    float half_tail = idamoe_erf_complement(x, density) * 0.5f;
    float cdf = idamoe_erf_small(x) * 0.5f + 0.5f;
    cdf = x >= IDAMOE_ERF_SMALL_LIMIT ? 1.0f - half_tail : cdf;
    cdf = x <= -IDAMOE_ERF_SMALL_LIMIT ? half_tail : cdf;
    *value = cdf == 0.0f ? 0.0f : u * cdf;
    *slope = cdf + (density == 0.0f ? 0.0f : u * 0.3989422804014327f * density);
}

/// u sigmoid(x) = u / (1 + e^-x), rounded once after the exp, for silu (x = u) and the tanh GELU
/// (x = 2k); sigmoid(x) = 1 / d into *sigmoid and 1 - sigmoid(x) = e^-x / d into *complement without
/// cancellation, d = 1 + e^-x. For x < -88.72, e^-x overflows: the result is 0 and *sigmoid 0 (the
/// true |u sigmoid(x)| is below 3e-37 there; -inf / inf would be NaN).
static inline float idamoe_times_sigmoid(float u, float x, float *sigmoid, float *complement) {
    float big = idamoe_exp(-x);
    float d = 1.0f + big;
    *sigmoid = 1.0f / d;
    *complement = big / d;
    return big == __builtin_inff() ? 0.0f : u / d;
}

/// SiLU u sigmoid(u) = u / (1 + e^-u) into *value and its slope s (1 + u (1 - s)), s = sigmoid(u),
/// into *slope. The value's relative error is below 2.5 ulp (measured 2.40) for u >= -88.7; the
/// slope's error is below 4 x 2^-24 (s + |u s (1 - s)|) (measured 3.81) for u >= -87.3, and below
/// 2.3e-7 absolutely everywhere (measured 2.25e-7; the slope is 0 near u = -1.28, so no relative
/// bound holds). Further down both are 0 or tiny, within 3e-37 of the truth. Measured, at every
/// level, on every float with 2^-14 <= |u| <= 128 and every 97th below. silu(+inf) = (+inf, 1),
/// silu(-inf) = silu(-1e30) = (0, 0), silu(1e30) = (1e30, 1), NaN gives NaN.
static inline void idamoe_silu(float u, float *value, float *slope) {
    float s, c;
    *value = idamoe_times_sigmoid(u, u, &s, &c);
    // u (1 - s) is 0 once 1 - s underflows (u > 103.97), u = +inf included (inf * 0 would be NaN).
    float rise = c == 0.0f ? 0.0f : u * c;
    *slope = s == 0.0f ? 0.0f : s * (1.0f + rise);
}

/// The tanh GELU 0.5 u (1 + tanh k), k = sqrt(2 / pi) (u + 0.044715 u^3), computed as u sigmoid(t),
/// t = 2k (the same function, without the cancellation of 1 + tanh k for u < 0), into *value, and
/// its slope s (1 + u (1 - s) t'), s = sigmoid(t), t' = 2 sqrt(2 / pi) (1 + 3 0.044715 u^2), into
/// *slope. t is rounded three times, which moves e^-t by up to about 2^-23 |t| relatively: the error
/// grows with |t| in the lower tail, where the function is itself that sensitive to u (its condition
/// number there is about |u t'|). The value's relative error is below (1 + |t|) 3 ulp (measured
/// 2.80) for t >= -88.7 (u >= -10.05); the slope's error is below (1 + |t|) 4 x 2^-24
/// (s + |u s (1 - s) t'|) (measured 3.71) for t >= -87.3, and below 2.6e-7 absolutely everywhere
/// (measured 2.56e-7). Further down both are 0 or tiny, within 7e-37 of the truth. Measured, at every
/// level, on every float with 2^-14 <= |u| <= 128 and every 97th below. gelu_tanh(+inf) = (+inf, 1),
/// gelu_tanh(-inf) = gelu_tanh(-1e30) = (0, 0), gelu_tanh(1e30) = (1e30, 1), NaN gives NaN.
static inline void idamoe_gelu_tanh(float u, float *value, float *slope) {
    float square = u * u;
    float t = u * (1.5957691216057308f + 0.07135481627260025f * square);
    float s, c;
    *value = idamoe_times_sigmoid(u, t, &s, &c);
    float rate = 1.5957691216057308f + 0.21406444881780076f * square;  // t'
    // u (1 - s) t' is 0 once 1 - s underflows (t > 103.97), u = +inf included (inf * 0 would be NaN).
    float rise = c == 0.0f ? 0.0f : u * c * rate;
    *slope = s == 0.0f ? 0.0f : s * (1.0f + rise);
}

/// tanh(u) into *value and its slope 1 - tanh^2 u into *slope. For |u| < 1 the odd polynomial
/// u + u^3 P(u^2), P of degree 6; beyond, 1 - c with c = 1 - tanh|u| = 2e / (1 + e), e = e^(-2|u|)
/// (c <= 0.24 beside 1 - c >= 0.76, so no cancellation); the sign of u is put back last. The slope is
/// c (2 - c) = (1 - tanh|u|)(1 + tanh|u|) everywhere, relatively accurate in the tails where 1 - t^2
/// would cancel. Value within 1.1 ulp (measured 1.08), slope within 3.5 ulp (measured 3.46) wherever
/// it is a normal float (|u| < 43.6; beyond, within a subnormal step of it). Measured, at every level,
/// on every float with 2^-14 <= |u| <= 128 and every 97th below. tanh(+-inf) = tanh(+-1e30) = (+-1, 0),
/// tanh(-0) = (-0, 1), NaN gives NaN.
static inline void idamoe_tanh(float u, float *value, float *slope) {
    float a = idamoe_magnitude(u);
    float s = a * a;
    float p = -3.5845203e-4f;
    p = p * s + 2.3013647e-3f;
    p = p * s - 7.9461066e-3f;
    p = p * s + 2.1486657e-2f;
    p = p * s - 5.3879801e-2f;
    p = p * s + 0.13332345f;
    p = p * s - 0.33333296f;
    float small = a + a * (s * p);
    float e = idamoe_exp(-2.0f * a);
    float c = (2.0f * e) / (1.0f + e);
    float magnitude = a < 1.0f ? small : 1.0f - c;
    *value = idamoe_float_from_bits(idamoe_bits_from_float(magnitude) | (idamoe_bits_from_float(u) & 0x80000000u));
    *slope = c * (2.0f - c);
}

/// max(0, u) and its slope (1 for u > 0, else 0); NaN gives (0, 0), as `u > 0 ? u : 0` does.
static inline void idamoe_relu(float u, float *value, float *slope) {
    *value = u > 0.0f ? u : 0.0f;
    *slope = u > 0.0f ? 1.0f : 0.0f;
}

/// The activations the loops run (`Activation` in IdaNumerics).
typedef enum {
    /// The exact GELU (idamoe_gelu).
    IDAMOE_ACTIVATION_GELU = 0,
    /// The tanh GELU (idamoe_gelu_tanh).
    IDAMOE_ACTIVATION_GELU_TANH = 1,
    /// max(0, u) (idamoe_relu).
    IDAMOE_ACTIVATION_RELU = 2,
    /// u sigmoid(u) (idamoe_silu).
    IDAMOE_ACTIVATION_SILU = 3,
    /// tanh(u) (idamoe_tanh).
    IDAMOE_ACTIVATION_TANH = 4,
} idamoe_activation;

/// value[i] = f(input[i]) and, when `slope` is not NULL, slope[i] = f'(input[i]), for i < n, f the
/// activation `kind` (another kind writes nothing). `value` may be `input` (in place). `level` must be
/// compiled and runnable on this processor.
void idamoe_activation_loop(int level, int kind, const float *input, float *value, float *slope, long n);

/// out[i] = e^(input[i] - shift) for i < n (a softmax numerator); `out` may be `input`.
void idamoe_exp_shifted_loop(int level, const float *input, float *out, float shift, long n);

/// out[i] = e^(input[i] - shift) for i < n, the difference taken in double and rounded to float before
/// the float exp: a softmax numerator from double log-values (the GMM's log-joints) whose shift is at
/// least every input, so the argument is at most 0 and exact cancellation happens before the rounding.
/// Relative error below 1 ulp of e^x plus |x| 2^-24 (the rounding of x), x = input[i] - shift.
void idamoe_exp_shifted_double_loop(int level, const double *input, float *out, double shift, long n);

/// log2(x) in double for x > 0 (subnormals included), within 3 ulp of the result (the worst case
/// measured in VectorMathTests is just above 1, where the result is tiny); branch-free, so loops
/// vectorise. x = m 2^e with m in [sqrt(1/2), sqrt(2)), and ln m = 2 atanh(s), s = (m - 1) / (m + 1),
/// |s| < 0.1716, by its odd series to s^21.
/// Other inputs (0, negative, infinite, NaN) give a meaningless number: callers skip them.
static inline double idamoe_log2_double(double x) {
    uint64_t raw;
    __builtin_memcpy(&raw, &x, 8);
    int64_t sub = raw < 0x0010000000000000ull;              // subnormal: scale by 2^54 first
    double y = sub ? x * 0x1p54 : x;
    uint64_t bits;
    __builtin_memcpy(&bits, &y, 8);
    int64_t exponent = (int64_t)(bits >> 52) - 1023 - (sub ? 54 : 0);
    uint64_t mantissaBits = (bits & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull;
    double m;
    __builtin_memcpy(&m, &mantissaBits, 8);
    int64_t high = m > 1.4142135623730951;
    m = high ? m * 0.5 : m;
    exponent += high;
    double s = (m - 1.0) / (m + 1.0);
    double t = s * s;
    double p = 1.0 / 21;
    p = p * t + 1.0 / 19;
    p = p * t + 1.0 / 17;
    p = p * t + 1.0 / 15;
    p = p * t + 1.0 / 13;
    p = p * t + 1.0 / 11;
    p = p * t + 1.0 / 9;
    p = p * t + 1.0 / 7;
    p = p * t + 1.0 / 5;
    p = p * t + 1.0 / 3;
    double lnm = 2.0 * s + 2.0 * s * t * p;
    return (double)exponent + lnm * 1.4426950408889634;
}

/// -sum p[i] log2 p[i] over the p[i] > 0 (NaN and non-positive entries skipped): the entropy in bits
/// of a distribution. Eight lanes added in a fixed order, so the result depends on n alone, not on
/// where the values sit.
double idamoe_entropy_bits_loop(int level, const double *p, long n);

/// The largest of x[0..<n] (n >= 1); NaN never wins over a number. Eight lanes at a time: the
/// maximum does not depend on the order.
double idamoe_max_double_loop(int level, const double *x, long n);

/// For each group g < groups of m consecutive values: numerators[g m + j] = e^(input[g m + j] - shift)
/// as `idamoe_exp_shifted_double_loop`, sums[g] = their sum in double and largest[g] = their largest
/// (at least 0). The additions run in eight lanes combined in a fixed order that depends on m alone,
/// so a group's sum is the same wherever it sits in a buffer.
void idamoe_exp_group_sums_loop(int level, const double *input, double shift, long groups, long m,
                                float *numerators, double *sums, float *largest);

/// The float an F16 bit pattern stands for, exactly: subnormals, zeros of both signs, infinities and
/// NaN payloads (moved to the top of the float mantissa) included. Branch-free, so loops vectorise,
/// and integer work only except for subnormal halves, which are their 10-bit mantissa times 2^-24
/// (an exact product with a normal float result: no subnormal float arithmetic, which costs a
/// microcode assist on x86).
static inline float idamoe_float_from_f16(uint16_t h) {
    uint32_t magnitude = h & 0x7FFFu;
    uint32_t normal = (magnitude << 13) + (112u << 23);  // the exponent rebiased from 15 to 127
    uint32_t special = (magnitude << 13) | 0x7F800000u;  // infinities and NaN payloads
    uint32_t tiny = idamoe_bits_from_float((float)(int32_t)magnitude * 0x1p-24f);
    uint32_t bits = magnitude >= 0x7C00u ? special : (magnitude >= 0x0400u ? normal : tiny);
    return idamoe_float_from_bits(bits | ((uint32_t)(h & 0x8000u) << 16));
}

/// n little-endian F16 values at `bytes` (any alignment) as floats; the same values as
/// idamoe_float_from_f16 at every level (conversion is exact, so there is nothing to differ by).
void idamoe_f16_to_float_loop(int level, const uint8_t *bytes, float *out, long n);

/// n little-endian BF16 values at `bytes` (any alignment) as floats (exact: the top half of a float).
void idamoe_bf16_to_float_loop(int level, const uint8_t *bytes, float *out, long n);

/// One AdamW step's coefficients for a tensor (AdamW.swift says what each is).
typedef struct {
    float beta1, beta2, epsilon, step_size, inv_correction2, shrink, grad_scale;
} idamoe_adamw_coefficients;

/// AdamW over n elements in place: g' = g grad_scale; m = b1 m + (1 - b1) g'; v = b2 v + (1 - b2) g'^2;
/// p = p shrink - step_size m / (sqrt(v) inv_correction2 + epsilon). No contraction at any level: the
/// values are those of the scalar formula, the same on every CPU.
void idamoe_adamw_loop(int level, float *p, const float *g, float *m, float *v, long n,
                       const idamoe_adamw_coefficients *c);

#endif
