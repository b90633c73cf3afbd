// The processor's own description of itself (x86 CPUID and XGETBV), for choosing OpenBLAS kernels.
// Everything else about the CPU is decided in Swift (IdaBLAS/CPUFeatures.swift).
#ifndef IDAMOE_CPUID_SHIM_H
#define IDAMOE_CPUID_SHIM_H

/// The four registers one CPUID leaf returns.
typedef struct {
    unsigned int eax, ebx, ecx, edx;
} idamoe_cpuid_registers;

/// Runs CPUID for (leaf, subleaf) into *out. Returns 0 when the leaf is above the highest the
/// processor supports (or on a processor without CPUID), 1 otherwise.
int idamoe_cpuid(unsigned int leaf, unsigned int subleaf, idamoe_cpuid_registers *out);

/// XCR0 (which register states the operating system saves), or 0 when XGETBV is not available.
unsigned long long idamoe_xcr0(void);

#endif
