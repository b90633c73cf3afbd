// Nanoseconds per element of CVectorMath's loops at every level this CPU runs (scripts/bench_vector_math).
#include "vector_math.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int top = argc > 1 ? atoi(argv[1]) : IDAMOE_VECTOR_GENERIC;  // the widest level the CPU runs
    long n = 512 * 256;  // one expert's hidden activations in the default model
    float *a = malloc(n * sizeof *a), *v = malloc(n * sizeof *v), *s = malloc(n * sizeof *s);
    if (!a || !v || !s) return 1;
    srand(1);
    for (long i = 0; i < n; i++) a[i] = ((float)rand() / (float)RAND_MAX - 0.5f) * 8;
    static const char *names[] = {"generic", "avx2", "avx512"};
    static const char *kinds[] = {"gelu", "gelu_tanh", "relu", "silu", "tanh"};
    for (int level = IDAMOE_VECTOR_GENERIC; level <= top; level++) {
        double best[5] = {1e9, 1e9, 1e9, 1e9, 1e9}, exp = 1e9;
        for (int r = 0; r < 200; r++) {
            for (int kind = IDAMOE_ACTIVATION_GELU; kind <= IDAMOE_ACTIVATION_TANH; kind++) {
                double t = now();
                idamoe_activation_loop(level, kind, a, v, s, n);
                t = now() - t;
                if (t < best[kind]) best[kind] = t;
            }
            double t = now();
            idamoe_exp_shifted_loop(level, a, v, 1.0f, n);
            t = now() - t;
            if (t < exp) exp = t;
        }
        printf("%-8s value + slope ns/element:", names[level]);
        for (int kind = IDAMOE_ACTIVATION_GELU; kind <= IDAMOE_ACTIVATION_TANH; kind++)
            printf(" %s %.2f", kinds[kind], best[kind] / n * 1e9);
        printf("   exp %.2f ns/element   (%ld values, best of 200)\n", exp / n * 1e9, n);
    }
    return 0;
}
