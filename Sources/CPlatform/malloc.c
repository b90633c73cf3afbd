#include "platform_shim.h"
// Any C library header defines __GLIBC__ on glibc; without one the test below is always false and
// the tuning silently compiled to nothing (it did until a page-fault profile of training showed it).
#include <stdlib.h>

#if defined(__GLIBC__)
#include <malloc.h>

int idamoe_tune_malloc(int trim_threshold, int mmap_threshold) {
    return mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1 && mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1;
}
#else
int idamoe_tune_malloc(int trim_threshold, int mmap_threshold) {
    (void)trim_threshold;
    (void)mmap_threshold;
    return 0;
}
#endif
