#include "platform_shim.h"

#if defined(__GLIBC__)
#include <malloc.h>

void idamoe_tune_malloc(int trim_threshold, int mmap_threshold) {
    mallopt(M_TRIM_THRESHOLD, trim_threshold);
    mallopt(M_MMAP_THRESHOLD, mmap_threshold);
}
#else
void idamoe_tune_malloc(int trim_threshold, int mmap_threshold) {
    (void)trim_threshold;
    (void)mmap_threshold;
}
#endif
