/// Which OpenBLAS kernel family (`OPENBLAS_CORETYPE`) a process should run, decided from the CPU's
/// features, the core the loaded OpenBLAS picked by itself, and what the user set.
///
/// Debian's OpenBLAS 0.3.21 does not recognise processors newer than it and falls back to its generic
/// Prescott (SSE3) kernels, at about a quarter of the speed the CPU can reach (docs/decisions.md).
public enum KernelChoice: Equatable, Sendable {
    /// The user set `OPENBLAS_CORETYPE`: their value always wins.
    case user(String)
    /// OpenBLAS's own choice is as good as the CPU allows (or is a core we do not know to rank).
    case openBLAS(String)
    /// idamoe sets `core` because OpenBLAS picked the weaker `replacing`.
    case upgrade(core: String, replacing: String)

    /// The environment variable OpenBLAS reads (once, when it loads).
    public static let variable = "OPENBLAS_CORETYPE"
    /// Set beside `OPENBLAS_CORETYPE` when idamoe chose it, to the core OpenBLAS had picked, so the
    /// re-executed process (and the processes it starts) can say why the kernel is what it is.
    public static let replacedVariable = "IDAMOE_OPENBLAS_REPLACED_CORE"

    /// The decision for a process that has not yet been re-executed: `userSetting` is the value of
    /// `OPENBLAS_CORETYPE` (nil or empty when unset), `loadedCore` what `openblas_get_corename` says.
    public static func decide(features: CPUFeatures, loadedCore: String, userSetting: String?) -> KernelChoice {
        if let user = userSetting, !user.isEmpty { return .user(user) }
        guard let best = bestCore(for: features), let have = rank(of: loadedCore), let want = rank(of: best),
              have < want else { return .openBLAS(loadedCore) }
        return .upgrade(core: best, replacing: loadedCore)
    }

    /// The strongest x86-64 kernel family the features can run: SkylakeX with AVX-512 F/BW/DQ/VL,
    /// Haswell with AVX2 and FMA, none (leave OpenBLAS's choice) otherwise.
    public static func bestCore(for features: CPUFeatures) -> String? {
        if features.canRunAVX512 { return "SkylakeX" }
        if features.canRunAVX2 { return "Haswell" }
        return nil
    }

    /// The kernel families `OPENBLAS_CORETYPE` can name that this CPU runs, weakest first; the suite is
    /// run under each in CI (Prescott, then Haswell and SkylakeX when the CPU has them).
    public static func runnableCores(for features: CPUFeatures) -> [String] {
        var cores = ["Prescott"]
        if features.canRunAVX2 { cores.append("Haswell") }
        if features.canRunAVX512 { cores.append("SkylakeX") }
        return cores
    }

    /// How capable an x86-64 OpenBLAS core name is: 0 SSE-era generic kernels, 1 AVX, 2 AVX2 + FMA,
    /// 3 AVX-512; nil for a name we do not know (then we never override it).
    public static func rank(of core: String) -> Int? {
        switch core.lowercased() {
        case "katmai", "coppermine", "northwood", "prescott", "banias", "core2", "penryn", "dunnington",
             "nehalem", "atom", "opteron", "opteron_sse3", "barcelona", "nano", "bobcat", "generic":
            return 0
        case "sandybridge", "bulldozer", "piledriver", "steamroller", "excavator":
            return 1
        case "haswell", "zen":
            return 2
        case "skylakex", "cooperlake", "sapphirerapids":
            return 3
        default:
            return nil
        }
    }

    /// The core the process runs with after this choice.
    public var core: String {
        switch self {
        case let .user(c), let .openBLAS(c): return c
        case let .upgrade(c, _): return c
        }
    }

    /// How the kernel came to be, for `idamoe info --system` and benchmark headers.
    public var explanation: String {
        switch self {
        case .user: return "set by \(Self.variable)"
        case .openBLAS: return "OpenBLAS's own choice"
        case let .upgrade(core, replacing):
            return "chosen by idamoe: OpenBLAS picked \(replacing), the CPU runs \(core); set \(Self.variable) to override"
        }
    }
}
