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

    /// `value` when it is in 1...`limit`, else nil.
    @inlinable
    public static func within(_ value: Int, _ limit: Int) -> Bool { value >= 1 && value <= limit }

    /// a * b, or nil when it overflows.
    @inlinable
    public static func product(_ a: Int, _ b: Int) -> Int? {
        let (p, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? nil : p
    }
}
