import Foundation

/// How every number of the event log is written and read (docs/format.md, "Events"; docs/schema/):
/// a figure is written to six significant decimals (the one rounding rule of the log), a non-finite
/// figure as `null`; on reading, `null` is NaN and a value of the wrong type (a string where a
/// number belongs) is ignored, as if absent, so one odd field never costs the rest of the line.
enum EventCoding {
    /// `x` to six significant decimals; non-finite values and zero unchanged.
    static func rounded(_ x: Double) -> Double {
        guard x.isFinite, x != 0 else { return x }
        let scale = Foundation.pow(10, 5 - Foundation.floor(Foundation.log10(abs(x))))
        let r = (x * scale).rounded() / scale
        return r.isFinite ? r : x
    }
}

extension KeyedEncodingContainer {
    /// A figure: rounded, `null` when not finite.
    mutating func encodeFigure(_ x: Double, forKey key: Key) throws {
        if x.isFinite { try encode(EventCoding.rounded(x), forKey: key) } else { try encodeNil(forKey: key) }
    }

    /// A figure when present.
    mutating func encodeFigureIfPresent(_ x: Double?, forKey key: Key) throws {
        if let x { try encodeFigure(x, forKey: key) }
    }

    /// A list of figures, each rounded (`null` when not finite).
    mutating func encodeFigures(_ xs: [Double], forKey key: Key) throws {
        var list = nestedUnkeyedContainer(forKey: key)
        for x in xs {
            if x.isFinite { try list.encode(EventCoding.rounded(x)) } else { try list.encodeNil() }
        }
    }
}

extension KeyedDecodingContainer {
    /// A figure: its value, NaN for `null`, nil when absent or not a number.
    func figure(_ key: Key) -> Double? {
        guard contains(key) else { return nil }
        if (try? decodeNil(forKey: key)) == true { return .nan }
        return try? decode(Double.self, forKey: key)
    }

    /// A list of figures (`null` entries NaN), nil when absent or not a list of numbers.
    func figures(_ key: Key) -> [Double]? {
        guard contains(key), let values = try? decode([Double?].self, forKey: key) else { return nil }
        return values.map { $0 ?? .nan }
    }

    /// A value of type `T`, nil when absent or of another type.
    func lenient<T: Decodable>(_ type: T.Type, _ key: Key) -> T? {
        try? decodeIfPresent(type, forKey: key)
    }
}
