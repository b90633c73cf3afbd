import CVectorMath
/// Bit-exact conversions between `Float` and the 16-bit formats IEEE binary16 (F16) and bfloat16 (BF16).
///
/// Widening is exact (subnormals, infinities and NaN payloads kept); narrowing rounds to nearest,
/// ties to even, overflows to infinity, and keeps NaN a quiet NaN with the same sign.
public enum Half {
    /// The `Float` an F16 bit pattern stands for (exact; the one definition is CVectorMath's, which
    /// the probe reader's conversion loop uses too).
    public static func float(fromF16 bits: UInt16) -> Float { idamoe_float_from_f16(bits) }

    /// The F16 bit pattern nearest to `value` (round to nearest, ties to even).
    public static func f16(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: bits >> 16) & 0x8000
        let exponent = Int(bits >> 23) & 0xFF
        let mantissa = bits & 0x007F_FFFF
        if exponent == 0xFF {
            guard mantissa != 0 else { return sign | 0x7C00 }
            return sign | 0x7E00 | UInt16(truncatingIfNeeded: mantissa >> 13)  // quiet NaN
        }
        let halfExponent = exponent - 127 + 15
        if halfExponent >= 0x1F { return sign | 0x7C00 }
        if halfExponent <= 0 {
            // Result is subnormal (or zero) in F16: count units of 2^-24.
            // value = full * 2^(exponent - 150), so units = full * 2^(exponent - 126).
            guard exponent != 0 else { return sign }  // binary32 subnormals are far below 2^-25
            let shift = 126 - exponent
            guard shift <= 24 else { return sign }  // below half the smallest subnormal
            let full = mantissa | 0x0080_0000
            return sign | UInt16(truncatingIfNeeded: roundShift(full, by: shift))
        }
        // Normal: drop 13 mantissa bits; a carry out of the mantissa correctly bumps the exponent.
        let truncated = UInt32(halfExponent) << 10 | mantissa >> 13
        return sign | UInt16(truncatingIfNeeded: roundedUp(truncated, remainder: mantissa & 0x1FFF, half: 0x1000))
    }

    /// The `Float` a BF16 bit pattern stands for (exact: BF16 is the top half of a binary32).
    public static func float(fromBF16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// The BF16 bit pattern nearest to `value` (round to nearest, ties to even).
    public static func bf16(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN {
            return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040  // quiet, keeps sign and top payload
        }
        let truncated = bits >> 16
        return UInt16(truncatingIfNeeded: roundedUp(truncated, remainder: bits & 0xFFFF, half: 0x8000))
    }

    /// `value >> shift`, rounded to nearest with ties to even.
    private static func roundShift(_ value: UInt32, by shift: Int) -> UInt32 {
        let mask: UInt32 = (1 << UInt32(shift)) - 1
        return roundedUp(value >> UInt32(shift), remainder: value & mask, half: 1 << UInt32(shift - 1))
    }

    /// `truncated` plus one when the dropped `remainder` is above half, or exactly half and `truncated` is odd.
    private static func roundedUp(_ truncated: UInt32, remainder: UInt32, half: UInt32) -> UInt32 {
        if remainder > half || (remainder == half && truncated & 1 == 1) {
            return truncated + 1
        }
        return truncated
    }
}
