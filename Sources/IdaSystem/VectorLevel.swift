/// The widest vector instructions idamoe's own element-wise loops use (CVectorMath compiles each loop
/// once per level); decided from CPUID and XCR0 like OpenBLAS's kernel, never from the kernel's name.
public enum VectorLevel: Int32, Sendable, CaseIterable, CustomStringConvertible {
    /// Baseline x86-64 (SSE2), or any other processor: 4 floats a vector on x86-64.
    case generic = 0
    /// AVX2 with FMA: 8 floats a vector.
    case avx2 = 1
    /// AVX-512 F/BW/DQ/VL: 16 floats a vector.
    case avx512 = 2

    /// The widest level `features` can run.
    public static func best(for features: CPUFeatures) -> VectorLevel {
        if features.canRunAVX512 { return .avx512 }
        if features.canRunAVX2 { return .avx2 }
        return .generic
    }

    /// Every level `features` can run, narrowest first (tests compare them).
    public static func runnable(on features: CPUFeatures) -> [VectorLevel] {
        allCases.filter { $0.rawValue <= best(for: features).rawValue }
    }

    /// The level this process's loops use: the widest this processor runs.
    public static let current = best(for: .current())

    /// "generic", "avx2" or "avx512".
    public var description: String {
        switch self {
        case .generic: return "generic"
        case .avx2: return "avx2"
        case .avx512: return "avx512"
        }
    }
}
