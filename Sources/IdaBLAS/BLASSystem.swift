import COpenBLAS
import Foundation
import IdaSystem

/// The machine a computation ran on, as a benchmark or a bug report should state it: CPU, OpenBLAS
/// version and kernel (and why that kernel), thread count.
public struct BLASSystem: Sendable {
    /// The processor.
    public var cpu: CPUFeatures
    /// `openblas_get_config()`, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64".
    public var config: String
    /// How the kernel was chosen (its `core` is the kernel running).
    public var kernel: KernelChoice
    /// OpenBLAS threads at the time of the reading.
    public var threads: Int
    /// Cores available to the process.
    public var cores: Int
    /// The instruction-set level of idamoe's own element-wise loops.
    public var vectorLevel = VectorLevel.current

    /// The version word of `config` ("0.3.21"), or the whole string when it has another shape.
    public var version: String {
        let words = config.split(separator: " ")
        return words.count >= 2 && words[0] == "OpenBLAS" ? String(words[1]) : config
    }

    /// Reads the running process: CPUID, the loaded OpenBLAS, and how `prepareKernelEnvironment` left
    /// the environment.
    public static func current() -> BLASSystem {
        let loaded = BLAS.coreName
        let env = ProcessInfo.processInfo.environment
        let kernel: KernelChoice
        if let replaced = env[KernelChoice.replacedVariable], env[KernelChoice.variable] == loaded {
            kernel = .upgrade(core: loaded, replacing: replaced)
        } else if let user = env[KernelChoice.variable], !user.isEmpty {
            kernel = .user(loaded)
        } else {
            kernel = .openBLAS(loaded)
        }
        return BLASSystem(cpu: .current(), config: BLAS.config, kernel: kernel, threads: BLAS.threads,
                          cores: Cores.available)
    }

    /// "Intel(R) Xeon(R) Processor (family 6 model 207)".
    public var cpuLine: String {
        let name = cpu.brand.isEmpty ? (cpu.vendor.isEmpty ? "unknown CPU" : cpu.vendor) : cpu.brand
        return "\(name) (family \(cpu.family) model \(cpu.model))"
    }

    /// One line for benchmark headers and CI logs.
    public var summary: String {
        let how: String
        switch kernel {
        case .user: how = "from \(KernelChoice.variable)"
        case .openBLAS: how = "OpenBLAS's choice"
        case let .upgrade(_, replacing): how = "chosen by idamoe over \(replacing)"
        }
        return "cpu \(cpuLine), OpenBLAS \(version), kernel \(kernel.core) (\(how)), OpenBLAS \(threads) thread\(threads == 1 ? "" : "s"), \(cores) cores, vector loops \(vectorLevel)"
    }
}

extension BLAS {
    /// The kernel family the loaded OpenBLAS runs (`openblas_get_corename`), e.g. "SkylakeX".
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// The loaded OpenBLAS's build description (`openblas_get_config`).
    public static var config: String {
        guard let text = openblas_get_config() else { return "unknown" }
        return String(cString: text).trimmingCharacters(in: .whitespaces)
    }
}
