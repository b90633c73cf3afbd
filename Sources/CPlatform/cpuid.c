#include "platform_shim.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

int idamoe_cpuid(unsigned int leaf, unsigned int subleaf, idamoe_cpuid_registers *out) {
    out->eax = out->ebx = out->ecx = out->edx = 0;
    // The highest leaf of the range (basic 0x0..., extended 0x8000_0000...) the CPU answers.
    unsigned int highest = __get_cpuid_max(leaf & 0x80000000u, 0);
    if (highest == 0 || leaf > highest) return 0;
    __cpuid_count(leaf, subleaf, out->eax, out->ebx, out->ecx, out->edx);
    return 1;
}

unsigned long long idamoe_xcr0(void) {
    idamoe_cpuid_registers r;
    // XGETBV exists only when the OS has enabled XSAVE (CPUID.1:ECX.OSXSAVE, bit 27).
    if (!idamoe_cpuid(1, 0, &r) || !(r.ecx & (1u << 27))) return 0;
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#else
int idamoe_cpuid(unsigned int leaf, unsigned int subleaf, idamoe_cpuid_registers *out) {
    (void)leaf; (void)subleaf;
    out->eax = out->ebx = out->ecx = out->edx = 0;
    return 0;
}

unsigned long long idamoe_xcr0(void) { return 0; }
#endif
