/// Number formatting for labels without Foundation: fixed decimals and a compact form.
public enum NumberText {
    /// `value` rounded to `decimals` places ("-0.50", "3", "nan", "inf").
    public static func fixed(_ value: Double, decimals: Int) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        let places = min(max(0, decimals), 9)
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9.0e18 else { return compactExponent(value) }
        let units = UInt64(scaled)
        let whole = units / UInt64(scale)
        let fraction = units % UInt64(scale)
        var text = value < 0 && units != 0 ? "-" : ""
        text += String(whole)
        if places > 0 {
            let digits = String(fraction)
            text += "." + String(repeating: "0", count: places - digits.count) + digits
        }
        return text
    }

    /// A share as a percentage with the decimals its size needs: "12.5%", "0.08%", "100%".
    public static func percent(_ share: Double) -> String {
        guard share.isFinite else { return fixed(share, decimals: 0) }
        let p = share * 100
        let decimals = abs(p) >= 99.95 ? 0 : abs(p) < 0.995 && p != 0 ? 2 : 1
        return fixed(p, decimals: decimals) + "%"
    }

    /// A short label: up to three significant digits, exponent form for very large or small values.
    public static func compact(_ value: Double) -> String {
        if !value.isFinite { return fixed(value, decimals: 0) }
        let magnitude = abs(value)
        if magnitude == 0 { return "0" }
        if magnitude >= 100_000 || magnitude < 0.001 { return compactExponent(value) }
        let decimals = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3
        return fixed(value, decimals: decimals)
    }

    /// "1.2e6" style text.
    static func compactExponent(_ value: Double) -> String {
        var mantissa = abs(value)
        var exponent = 0
        while mantissa >= 10 { mantissa /= 10; exponent += 1 }
        while mantissa < 1 { mantissa *= 10; exponent -= 1 }
        if (mantissa * 10).rounded() >= 100 { mantissa /= 10; exponent += 1 }
        return (value < 0 ? "-" : "") + fixed(mantissa, decimals: 1) + "e" + String(exponent)
    }
}
