// The loops of vector_math.h, compiled once per instruction-set level. Each variant is the same C
// loop around the header's inline scalar functions; a target attribute lets the compiler vectorise it
// for that level (16, 8 or 4 floats a vector), and `assume_safety` lets it do so in place (each index
// reads its input before writing its output, so there is no dependence between iterations).
#include "vector_math.h"

#define IDAMOE_GELU_BODY                                                        \
    if (slope) {                                                                \
        _Pragma("clang loop vectorize(assume_safety)")                          \
        for (long i = 0; i < n; i++) {                                          \
            float v, s;                                                         \
            idamoe_gelu(input[i], &v, &s);                                      \
            value[i] = v;                                                       \
            slope[i] = s;                                                       \
        }                                                                       \
    } else {                                                                    \
        _Pragma("clang loop vectorize(assume_safety)")                          \
        for (long i = 0; i < n; i++) {                                          \
            float v, s;                                                         \
            idamoe_gelu(input[i], &v, &s);                                      \
            value[i] = v;                                                       \
        }                                                                       \
    }

#define IDAMOE_EXP_BODY                                                         \
    _Pragma("clang loop vectorize(assume_safety)")                              \
    for (long i = 0; i < n; i++) out[i] = idamoe_exp(input[i] - shift);

static void gelu_generic(const float *input, float *value, float *slope, long n) { IDAMOE_GELU_BODY }
static void exp_generic(const float *input, float *out, float shift, long n) { IDAMOE_EXP_BODY }

#if defined(__x86_64__)
#define IDAMOE_AVX2 __attribute__((target("avx2,fma")))
#define IDAMOE_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma"), min_vector_width(512)))

IDAMOE_AVX2 static void gelu_avx2(const float *input, float *value, float *slope, long n) { IDAMOE_GELU_BODY }
IDAMOE_AVX2 static void exp_avx2(const float *input, float *out, float shift, long n) { IDAMOE_EXP_BODY }
IDAMOE_AVX512 static void gelu_avx512(const float *input, float *value, float *slope, long n) { IDAMOE_GELU_BODY }
IDAMOE_AVX512 static void exp_avx512(const float *input, float *out, float shift, long n) { IDAMOE_EXP_BODY }

int idamoe_vector_level_compiled(int level) {
    return level >= IDAMOE_VECTOR_GENERIC && level <= IDAMOE_VECTOR_AVX512;
}

void idamoe_gelu_loop(int level, const float *input, float *value, float *slope, long n) {
    switch (level) {
    case IDAMOE_VECTOR_AVX512: gelu_avx512(input, value, slope, n); break;
    case IDAMOE_VECTOR_AVX2: gelu_avx2(input, value, slope, n); break;
    default: gelu_generic(input, value, slope, n); break;
    }
}

void idamoe_exp_shifted_loop(int level, const float *input, float *out, float shift, long n) {
    switch (level) {
    case IDAMOE_VECTOR_AVX512: exp_avx512(input, out, shift, n); break;
    case IDAMOE_VECTOR_AVX2: exp_avx2(input, out, shift, n); break;
    default: exp_generic(input, out, shift, n); break;
    }
}
#else
int idamoe_vector_level_compiled(int level) { return level == IDAMOE_VECTOR_GENERIC; }

void idamoe_gelu_loop(int level, const float *input, float *value, float *slope, long n) {
    (void)level;
    gelu_generic(input, value, slope, n);
}

void idamoe_exp_shifted_loop(int level, const float *input, float *out, float shift, long n) {
    (void)level;
    exp_generic(input, out, shift, n);
}
#endif
