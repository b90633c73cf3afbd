import CPlatform

/// What the processor says it can run (CPUID) and which register states the operating system saves
/// (XCR0): the facts an OpenBLAS kernel choice rests on.
public struct CPUFeatures: Sendable, Equatable {
    /// Vendor string, e.g. "GenuineIntel" (empty when CPUID is unavailable).
    public var vendor = ""
    /// Brand string, e.g. "Intel(R) Xeon(R) Processor" (empty when the CPU has none).
    public var brand = ""
    /// Display family, model and stepping (extended fields folded in as the vendors document).
    public var family = 0, model = 0, stepping = 0
    /// Instruction-set extensions as CPUID reports them.
    public var sse3 = false, avx = false, fma = false, avx2 = false
    /// AVX-512 foundation and the byte/word, doubleword/quadword and vector-length extensions.
    public var avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false
    /// The OS saves the YMM (AVX) and the opmask and ZMM (AVX-512) state across context switches.
    public var osSavesYMM = false, osSavesZMM = false

    /// Features with every flag off (a processor about which nothing is known).
    public init() {}

    /// AVX2 and FMA usable: the processor has them and the OS saves YMM registers.
    public var canRunAVX2: Bool { avx && avx2 && fma && osSavesYMM }

    /// AVX-512 F/BW/DQ/VL usable: the processor has them and the OS saves the ZMM and opmask state.
    public var canRunAVX512: Bool { canRunAVX2 && avx512f && avx512bw && avx512dq && avx512vl && osSavesZMM }

    /// Names of the usable extensions among those that decide a kernel, in increasing order.
    public var usableNames: [String] {
        var names: [String] = []
        if sse3 { names.append("sse3") }
        if avx && osSavesYMM { names.append("avx") }
        if fma && osSavesYMM { names.append("fma") }
        if avx2 && osSavesYMM { names.append("avx2") }
        if osSavesZMM {
            for (flag, name) in [(avx512f, "avx512f"), (avx512bw, "avx512bw"), (avx512dq, "avx512dq"), (avx512vl, "avx512vl")]
            where flag { names.append(name) }
        }
        return names
    }

    /// The features of the processor this process runs on.
    public static func current() -> CPUFeatures {
        var f = CPUFeatures()
        var r = idamoe_cpuid_registers()
        guard idamoe_cpuid(0, 0, &r) != 0 else { return f }
        f.vendor = ascii([r.ebx, r.edx, r.ecx])
        if idamoe_cpuid(1, 0, &r) != 0 {
            let baseFamily = Int((r.eax >> 8) & 0xF), baseModel = Int((r.eax >> 4) & 0xF)
            f.family = baseFamily == 0xF ? baseFamily + Int((r.eax >> 20) & 0xFF) : baseFamily
            f.model = baseFamily == 0x6 || baseFamily == 0xF ? baseModel | Int((r.eax >> 12) & 0xF0) : baseModel
            f.stepping = Int(r.eax & 0xF)
            f.sse3 = r.ecx & 1 != 0
            f.fma = r.ecx & (1 << 12) != 0
            f.avx = r.ecx & (1 << 28) != 0
        }
        if idamoe_cpuid(7, 0, &r) != 0 {
            f.avx2 = r.ebx & (1 << 5) != 0
            f.avx512f = r.ebx & (1 << 16) != 0
            f.avx512dq = r.ebx & (1 << 17) != 0
            f.avx512bw = r.ebx & (1 << 30) != 0
            f.avx512vl = r.ebx & (1 << 31) != 0
        }
        let xcr0 = idamoe_xcr0()
        f.osSavesYMM = xcr0 & 0x6 == 0x6          // SSE and AVX state
        f.osSavesZMM = xcr0 & 0xE6 == 0xE6        // plus opmask, ZMM_Hi256 and Hi16_ZMM
        var words: [UInt32] = []
        for leaf: UInt32 in 0x8000_0002...0x8000_0004 {
            guard idamoe_cpuid(leaf, 0, &r) != 0 else { break }
            words += [r.eax, r.ebx, r.ecx, r.edx]
        }
        f.brand = ascii(words).split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        return f
    }

    /// The bytes of little-endian registers as ASCII text, stopping at the first NUL.
    static func ascii(_ registers: [UInt32]) -> String {
        var bytes: [UInt8] = []
        for word in registers {
            for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8((word >> UInt32(shift)) & 0xFF)) }
        }
        let text = bytes.prefix { $0 != 0 }.map { $0 >= 32 && $0 < 127 ? Character(UnicodeScalar($0)) : " " }
        return String(text)
    }
}
