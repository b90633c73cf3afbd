import Foundation

/// A small deterministic random generator (SplitMix64) so that runs repeat for a given seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable {
    /// The internal state; saving and restoring it resumes the same sequence.
    public var state: UInt64

    /// A generator seeded with `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in [low, high).
    public mutating func uniform(_ low: Float, _ high: Float) -> Float {
        let unit = Float(next() >> 40) * (1.0 / Float(1 << 24))
        return low + (high - low) * unit
    }

    /// A uniform Double in [0, 1).
    public mutating func unitDouble() -> Double {
        Double(next() >> 11) * (1.0 / Double(UInt64(1) << 53))
    }

    /// A standard normal value (Box-Muller).
    public mutating func normal() -> Float {
        let u1 = max(unitDouble(), 1e-300)
        let u2 = unitDouble()
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
    }
}
