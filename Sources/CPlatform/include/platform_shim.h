// What the platform offers that Swift's modules do not: the processor's description of itself (x86
// CPUID and XGETBV, for choosing OpenBLAS kernels; decided in IdaBLAS/System/CPUFeatures.swift) and
// glibc's mallopt (not in the Glibc module).
#ifndef IDAMOE_PLATFORM_SHIM_H
#define IDAMOE_PLATFORM_SHIM_H

/// The four registers one CPUID leaf returns.
typedef struct {
    unsigned int eax, ebx, ecx, edx;
} idamoe_cpuid_registers;

/// Runs CPUID for (leaf, subleaf) into *out. Returns 0 when the leaf is above the highest the
/// processor supports (or on a processor without CPUID), 1 otherwise.
int idamoe_cpuid(unsigned int leaf, unsigned int subleaf, idamoe_cpuid_registers *out);

/// XCR0 (which register states the operating system saves), or 0 when XGETBV is not available.
unsigned long long idamoe_xcr0(void);

/// Keeps freed blocks up to `trim_threshold` bytes in the heap and serves allocations below
/// `mmap_threshold` from it (glibc mallopt M_TRIM_THRESHOLD, M_MMAP_THRESHOLD). Returns 1 when glibc
/// took both settings, 0 otherwise (another C library: nothing is done).
int idamoe_tune_malloc(int trim_threshold, int mmap_threshold);

#endif
