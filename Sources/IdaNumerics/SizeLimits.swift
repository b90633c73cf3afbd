import Foundation

/// The largest sizes idamoe accepts from a file or a flag (docs/format.md, "Limits"): room for
/// published MoE models (hundreds of experts, dozens of layers, hidden widths in the tens of
/// thousands), small enough that every product of them fits an `Int` and is checked before anything
/// is allocated.
public enum SizeLimits {
    /// Experts E per MoE layer.
    public static let experts = 1024
    /// Gaussian components per expert M.
    public static let componentsPerExpert = 256
    /// Components K = E * M per layer.
    public static let components = 65_536
    /// Latent width P.
    public static let latentDim = 4096
    /// Hidden width D of a router input, and any encoder width.
    public static let width = 65_536
    /// Transformer block index of a MoE layer (so up to 4096 blocks).
    public static let blockIndex = 4095
    /// Experts per token k.
    public static let topK = 64
    /// Vocabulary V of a model (idamoe's models are byte-level: at least 256).
    public static let vocab = 1 << 21
    /// Transformer blocks of a model (block indices 0 ... `blockIndex`).
    public static let blocks = blockIndex + 1
    /// Context length T of a model.
    public static let context = 65_536
    /// Hidden layers of a router's encoder.
    public static let encoderLayers = 16
    /// Sequences per training batch B.
    public static let batch = 1 << 20
    /// Optimizer steps of a run (snapshot names have eight digits).
    public static let steps = 99_999_999
    /// Worker threads of any command (`--threads`).
    public static let threads = 1024
    /// Domain ids of a probe that does not name its domains.
    public static let domains = 65_536
    /// Tokens N of a probe (ids, domains and documents are 32-bit).
    public static let tokens = Int(Int32.max)

    /// `value` when it is in 1...`limit`, else nil.
    @inlinable
    public static func within(_ value: Int, _ limit: Int) -> Bool { value >= 1 && value <= limit }

    /// a * b, or nil when it overflows.
    @inlinable
    public static func product(_ a: Int, _ b: Int) -> Int? {
        let (p, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? nil : p
    }

    /// The product of `factors`, or nil when it overflows or a factor is negative.
    public static func product(_ factors: [Int]) -> Int? {
        var p = 1
        for f in factors {
            guard f >= 0, let next = product(p, f) else { return nil }
            p = next
        }
        return p
    }

    /// The sum of `terms`, or nil when it overflows (a nil term makes the sum nil).
    public static func sum(_ terms: [Int?]) -> Int? {
        var s = 0
        for term in terms {
            guard let term else { return nil }
            let (next, overflow) = s.addingReportingOverflow(term)
            if overflow { return nil }
            s = next
        }
        return s
    }

    /// Bytes of physical memory on this machine.
    public static var physicalMemory: Int {
        Int(clamping: ProcessInfo.processInfo.physicalMemory)
    }

    /// "3.2 GiB": a byte count for messages.
    public static func describe(bytes: Int) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) bytes" : String(format: "%.1f %@", value, units[unit])
    }
}
