// The loops of vector_math.h, compiled once per instruction-set level. Each variant is the same C
// loop around the header's inline scalar functions; a target attribute lets the compiler vectorise it
// for that level (16, 8 or 4 floats a vector), and `assume_safety` lets it do so in place (each index
// reads its input before writing its output, so there is no dependence between iterations).
#include "vector_math.h"

// One activation's loop: values and slopes, or values alone (the slope's work is then left out).
#define IDAMOE_ACTIVATION_LOOP(function)                                        \
    if (slope) {                                                                \
        _Pragma("clang loop vectorize(assume_safety)")                          \
        for (long i = 0; i < n; i++) {                                          \
            float v, s;                                                         \
            function(input[i], &v, &s);                                         \
            value[i] = v;                                                       \
            slope[i] = s;                                                       \
        }                                                                       \
    } else {                                                                    \
        _Pragma("clang loop vectorize(assume_safety)")                          \
        for (long i = 0; i < n; i++) {                                          \
            float v, s;                                                         \
            function(input[i], &v, &s);                                         \
            value[i] = v;                                                       \
        }                                                                       \
    }

#define IDAMOE_ACTIVATION_BODY                                                  \
    switch (kind) {                                                             \
    case IDAMOE_ACTIVATION_GELU: IDAMOE_ACTIVATION_LOOP(idamoe_gelu) break;     \
    case IDAMOE_ACTIVATION_GELU_TANH: IDAMOE_ACTIVATION_LOOP(idamoe_gelu_tanh) break; \
    case IDAMOE_ACTIVATION_RELU: IDAMOE_ACTIVATION_LOOP(idamoe_relu) break;     \
    case IDAMOE_ACTIVATION_SILU: IDAMOE_ACTIVATION_LOOP(idamoe_silu) break;     \
    case IDAMOE_ACTIVATION_TANH: IDAMOE_ACTIVATION_LOOP(idamoe_tanh) break;     \
    default: break;                                                             \
    }

#define IDAMOE_EXP_BODY                                                         \
    _Pragma("clang loop vectorize(assume_safety)")                              \
    for (long i = 0; i < n; i++) out[i] = idamoe_exp(input[i] - shift);

// e^(input - shift) over doubles, the difference rounded to float: one long loop, 16 floats a step
// and two steps in flight, which keeps both vector units busy (about twice as fast as 8 a step).
#define IDAMOE_EXP_DOUBLE_LOOP(input, out, shift, count)                        \
    _Pragma("clang loop vectorize_width(16) interleave_count(2)")               \
    for (long i = 0; i < (count); i++) (out)[i] = idamoe_exp((float)((input)[i] - (shift)));

#define IDAMOE_EXP_DOUBLE_BODY IDAMOE_EXP_DOUBLE_LOOP(input, out, shift, n)

#define IDAMOE_MAX_DOUBLE_BODY                                                  \
    double lanes[8];                                                            \
    for (int l = 0; l < 8; l++) lanes[l] = -__builtin_inf();                    \
    long i = 0;                                                                 \
    for (; i + 8 <= n; i += 8)                                                  \
        for (int l = 0; l < 8; l++) lanes[l] = x[i + l] > lanes[l] ? x[i + l] : lanes[l]; \
    double peak = -__builtin_inf();                                             \
    for (int l = 0; l < 8; l++) peak = lanes[l] > peak ? lanes[l] : peak;       \
    for (; i < n; i++) peak = x[i] > peak ? x[i] : peak;                        \
    return peak;

#define IDAMOE_ENTROPY_BODY                                                     \
    double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                 \
    long i = 0;                                                                 \
    for (; i + 8 <= n; i += 8)                                                  \
        for (int l = 0; l < 8; l++) {                                           \
            double v = p[i + l];                                                \
            double term = v * idamoe_log2_double(v);                            \
            lanes[l] -= v > 0 ? term : 0.0;                                     \
        }                                                                       \
    for (int l = 0; i < n; i++, l++) {                                          \
        double v = p[i];                                                        \
        double term = v * idamoe_log2_double(v);                                \
        lanes[l] -= v > 0 ? term : 0.0;                                         \
    }                                                                           \
    return ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6]))                      \
         + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));

// Two passes: the row's numerators first (the loop above, about twice as fast as exponentials
// inside each short group), then each group's sum and largest value from them. A group's sum keeps
// its fixed order: lane l adds elements l, l + 8, ... in double, then the lanes are added as the tree
// below.
#define IDAMOE_GROUP_BODY                                                       \
    IDAMOE_EXP_DOUBLE_LOOP(input, numerators, shift, groups * m)                \
    for (long g = 0; g < groups; g++) {                                         \
        const float *in = numerators + g * m;                                   \
        double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};                             \
        float top[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                \
        long j = 0;                                                             \
        for (; j + 8 <= m; j += 8) {                                            \
            for (int l = 0; l < 8; l++) {                                       \
                float v = in[j + l];                                            \
                lanes[l] += (double)v;                                          \
                top[l] = v > top[l] ? v : top[l];                               \
            }                                                                   \
        }                                                                       \
        for (int l = 0; j < m; j++, l++) {                                      \
            float v = in[j];                                                    \
            lanes[l] += (double)v;                                              \
            top[l] = v > top[l] ? v : top[l];                                   \
        }                                                                       \
        sums[g] = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6]))               \
                + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));              \
        float best = top[0];                                                    \
        for (int l = 1; l < 8; l++) best = top[l] > best ? top[l] : best;       \
        largest[g] = best;                                                      \
    }

// AdamW (AdamW.swift): contraction off, so that every level computes exactly the scalar formula's
// roundings (the same values as the Swift fallback, whatever the CPU).
#define IDAMOE_ADAMW_BODY                                                       \
    _Pragma("clang fp contract(off)")                                           \
    const float b1 = c->beta1, b2 = c->beta2, eps = c->epsilon, step = c->step_size; \
    const float corr = c->inv_correction2, shrink = c->shrink, scale = c->grad_scale; \
    _Pragma("clang loop vectorize(assume_safety)")                              \
    for (long i = 0; i < n; i++) {                                              \
        float gi = g[i] * scale;                                                \
        float mi = b1 * m[i] + (1.0f - b1) * gi;                                \
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;                           \
        m[i] = mi;                                                              \
        v[i] = vi;                                                              \
        p[i] = p[i] * shrink - step * mi / (__builtin_sqrtf(vi) * corr + eps);  \
    }

#define IDAMOE_F16_BODY                                                         \
    _Pragma("clang loop vectorize(enable)")                                     \
    for (long i = 0; i < n; i++)                                                \
        out[i] = idamoe_float_from_f16((uint16_t)(bytes[2 * i] | (uint16_t)bytes[2 * i + 1] << 8));

#define IDAMOE_BF16_BODY                                                        \
    _Pragma("clang loop vectorize(enable)")                                     \
    for (long i = 0; i < n; i++)                                                \
        out[i] = idamoe_float_from_bits((uint32_t)bytes[2 * i] << 16 | (uint32_t)bytes[2 * i + 1] << 24);

static void f16_generic(const uint8_t *bytes, float *out, long n) { IDAMOE_F16_BODY }
static void bf16_generic(const uint8_t *bytes, float *out, long n) { IDAMOE_BF16_BODY }
static void activation_generic(int kind, const float *input, float *value, float *slope, long n) { IDAMOE_ACTIVATION_BODY }
static void exp_generic(const float *input, float *out, float shift, long n) { IDAMOE_EXP_BODY }
static void exp_double_generic(const double *input, float *out, double shift, long n) { IDAMOE_EXP_DOUBLE_BODY }
static double max_double_generic(const double *x, long n) { IDAMOE_MAX_DOUBLE_BODY }
static double entropy_generic(const double *p, long n) { IDAMOE_ENTROPY_BODY }
static void group_generic(const double *input, double shift, long groups, long m, float *numerators,
                          double *sums, float *largest) { IDAMOE_GROUP_BODY }
static void adamw_generic(float *p, const float *g, float *m, float *v, long n,
                          const idamoe_adamw_coefficients *c) { IDAMOE_ADAMW_BODY }

#if defined(__x86_64__)
#define IDAMOE_AVX2 __attribute__((target("avx2,fma")))
#define IDAMOE_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma"), min_vector_width(512)))

IDAMOE_AVX2 static void activation_avx2(int kind, const float *input, float *value, float *slope, long n) { IDAMOE_ACTIVATION_BODY }
IDAMOE_AVX2 static void exp_avx2(const float *input, float *out, float shift, long n) { IDAMOE_EXP_BODY }
IDAMOE_AVX2 static void exp_double_avx2(const double *input, float *out, double shift, long n) { IDAMOE_EXP_DOUBLE_BODY }
IDAMOE_AVX2 static double max_double_avx2(const double *x, long n) { IDAMOE_MAX_DOUBLE_BODY }
IDAMOE_AVX2 static double entropy_avx2(const double *p, long n) { IDAMOE_ENTROPY_BODY }
IDAMOE_AVX2 static void group_avx2(const double *input, double shift, long groups, long m, float *numerators,
                          double *sums, float *largest) { IDAMOE_GROUP_BODY }
IDAMOE_AVX2 static void f16_avx2(const uint8_t *bytes, float *out, long n) { IDAMOE_F16_BODY }
IDAMOE_AVX2 static void bf16_avx2(const uint8_t *bytes, float *out, long n) { IDAMOE_BF16_BODY }
IDAMOE_AVX512 static void f16_avx512(const uint8_t *bytes, float *out, long n) { IDAMOE_F16_BODY }
IDAMOE_AVX512 static void bf16_avx512(const uint8_t *bytes, float *out, long n) { IDAMOE_BF16_BODY }
IDAMOE_AVX2 static void adamw_avx2(float *p, const float *g, float *m, float *v, long n,
                          const idamoe_adamw_coefficients *c) { IDAMOE_ADAMW_BODY }
IDAMOE_AVX512 static void adamw_avx512(float *p, const float *g, float *m, float *v, long n,
                          const idamoe_adamw_coefficients *c) { IDAMOE_ADAMW_BODY }
IDAMOE_AVX512 static void activation_avx512(int kind, const float *input, float *value, float *slope, long n) { IDAMOE_ACTIVATION_BODY }
IDAMOE_AVX512 static void exp_avx512(const float *input, float *out, float shift, long n) { IDAMOE_EXP_BODY }
IDAMOE_AVX512 static void exp_double_avx512(const double *input, float *out, double shift, long n) { IDAMOE_EXP_DOUBLE_BODY }
IDAMOE_AVX512 static double max_double_avx512(const double *x, long n) { IDAMOE_MAX_DOUBLE_BODY }
IDAMOE_AVX512 static double entropy_avx512(const double *p, long n) { IDAMOE_ENTROPY_BODY }
IDAMOE_AVX512 static void group_avx512(const double *input, double shift, long groups, long m, float *numerators,
                          double *sums, float *largest) { IDAMOE_GROUP_BODY }

int idamoe_vector_level_compiled(int level) {
    return level >= IDAMOE_VECTOR_GENERIC && level <= IDAMOE_VECTOR_AVX512;
}

void idamoe_activation_loop(int level, int kind, const float *input, float *value, float *slope, long n) {
    switch (level) {
    case IDAMOE_VECTOR_AVX512: activation_avx512(kind, input, value, slope, n); break;
    case IDAMOE_VECTOR_AVX2: activation_avx2(kind, input, value, slope, n); break;
    default: activation_generic(kind, input, value, slope, n); break;
    }
}

void idamoe_exp_shifted_loop(int level, const float *input, float *out, float shift, long n) {
    switch (level) {
    case IDAMOE_VECTOR_AVX512: exp_avx512(input, out, shift, n); break;
    case IDAMOE_VECTOR_AVX2: exp_avx2(input, out, shift, n); break;
    default: exp_generic(input, out, shift, n); break;
    }
}

void idamoe_exp_shifted_double_loop(int level, const double *input, float *out, double shift, long n) {
    switch (level) {
    case IDAMOE_VECTOR_AVX512: exp_double_avx512(input, out, shift, n); break;
    case IDAMOE_VECTOR_AVX2: exp_double_avx2(input, out, shift, n); break;
    default: exp_double_generic(input, out, shift, n); break;
    }
}

double idamoe_max_double_loop(int level, const double *x, long n) {
    switch (level) {
    case IDAMOE_VECTOR_AVX512: return max_double_avx512(x, n);
    case IDAMOE_VECTOR_AVX2: return max_double_avx2(x, n);
    default: return max_double_generic(x, n);
    }
}

double idamoe_entropy_bits_loop(int level, const double *p, long n) {
    switch (level) {
    case IDAMOE_VECTOR_AVX512: return entropy_avx512(p, n);
    case IDAMOE_VECTOR_AVX2: return entropy_avx2(p, n);
    default: return entropy_generic(p, n);
    }
}

void idamoe_exp_group_sums_loop(int level, const double *input, double shift, long groups, long m,
                                float *numerators, double *sums, float *largest) {
    switch (level) {
    case IDAMOE_VECTOR_AVX512: group_avx512(input, shift, groups, m, numerators, sums, largest); break;
    case IDAMOE_VECTOR_AVX2: group_avx2(input, shift, groups, m, numerators, sums, largest); break;
    default: group_generic(input, shift, groups, m, numerators, sums, largest); break;
    }
}

void idamoe_adamw_loop(int level, float *p, const float *g, float *m, float *v, long n,
                       const idamoe_adamw_coefficients *c) {
    switch (level) {
    case IDAMOE_VECTOR_AVX512: adamw_avx512(p, g, m, v, n, c); break;
    case IDAMOE_VECTOR_AVX2: adamw_avx2(p, g, m, v, n, c); break;
    default: adamw_generic(p, g, m, v, n, c); break;
    }
}

void idamoe_f16_to_float_loop(int level, const uint8_t *bytes, float *out, long n) {
    switch (level) {
    case IDAMOE_VECTOR_AVX512: f16_avx512(bytes, out, n); break;
    case IDAMOE_VECTOR_AVX2: f16_avx2(bytes, out, n); break;
    default: f16_generic(bytes, out, n); break;
    }
}

void idamoe_bf16_to_float_loop(int level, const uint8_t *bytes, float *out, long n) {
    switch (level) {
    case IDAMOE_VECTOR_AVX512: bf16_avx512(bytes, out, n); break;
    case IDAMOE_VECTOR_AVX2: bf16_avx2(bytes, out, n); break;
    default: bf16_generic(bytes, out, n); break;
    }
}
#else
int idamoe_vector_level_compiled(int level) { return level == IDAMOE_VECTOR_GENERIC; }

void idamoe_adamw_loop(int level, float *p, const float *g, float *m, float *v, long n,
                       const idamoe_adamw_coefficients *c) {
    (void)level;
    adamw_generic(p, g, m, v, n, c);
}

void idamoe_activation_loop(int level, int kind, const float *input, float *value, float *slope, long n) {
    (void)level;
    activation_generic(kind, input, value, slope, n);
}

void idamoe_exp_shifted_loop(int level, const float *input, float *out, float shift, long n) {
    (void)level;
    exp_generic(input, out, shift, n);
}

void idamoe_exp_shifted_double_loop(int level, const double *input, float *out, double shift, long n) {
    (void)level;
    exp_double_generic(input, out, shift, n);
}

double idamoe_max_double_loop(int level, const double *x, long n) {
    (void)level;
    return max_double_generic(x, n);
}

double idamoe_entropy_bits_loop(int level, const double *p, long n) {
    (void)level;
    return entropy_generic(p, n);
}

void idamoe_exp_group_sums_loop(int level, const double *input, double shift, long groups, long m,
                                float *numerators, double *sums, float *largest) {
    (void)level;
    group_generic(input, shift, groups, m, numerators, sums, largest);
}

void idamoe_f16_to_float_loop(int level, const uint8_t *bytes, float *out, long n) {
    (void)level;
    f16_generic(bytes, out, n);
}

void idamoe_bf16_to_float_loop(int level, const uint8_t *bytes, float *out, long n) {
    (void)level;
    bf16_generic(bytes, out, n);
}
#endif
