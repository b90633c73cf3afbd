/// The values a number may take, as data: a lower and an upper bound, each closed, open or absent.
/// Every range also excludes infinities and NaN. The settings tables, their JSON Schema (`minimum`,
/// `exclusiveMinimum`, `maximum`, `exclusiveMaximum`) and the checks that refuse a value all read
/// one `ValueRange`, so the words of an error and the schema's bounds cannot disagree.
public struct ValueRange: Sendable, Equatable {
    /// One end of a range.
    public enum Bound: Sendable, Equatable {
        /// The end value is allowed.
        case closed(Double)
        /// Only values strictly beyond it are allowed.
        case open(Double)

        /// The end value.
        public var value: Double {
            switch self {
            case let .closed(v), let .open(v): return v
            }
        }

        /// Whether the end value itself is allowed.
        public var isClosed: Bool {
            if case .closed = self { return true }
            return false
        }
    }

    /// The lower end, nil for none.
    public let lower: Bound?
    /// The upper end, nil for none.
    public let upper: Bound?
    /// Whether the values are integers (worded "1...64" rather than "[1, 64]").
    public let integers: Bool
    /// What the values are called in the error, when not the setting itself ("widths").
    public let subject: String?
    /// A remark after the bounds ("0: every core").
    public let note: String?

    /// A range from its ends.
    public init(lower: Bound?, upper: Bound?, integers: Bool = false, subject: String? = nil, note: String? = nil) {
        self.lower = lower
        self.upper = upper
        self.integers = integers
        self.subject = subject
        self.note = note
    }

    /// Integers in `bounds`, both ends allowed.
    public static func integers(_ bounds: ClosedRange<Int>, subject: String? = nil, note: String? = nil) -> ValueRange {
        ValueRange(lower: .closed(Double(bounds.lowerBound)), upper: .closed(Double(bounds.upperBound)), integers: true,
                   subject: subject, note: note)
    }

    /// Any finite number.
    public static let finite = ValueRange(lower: nil, upper: nil)
    /// Finite numbers above 0.
    public static let positive = ValueRange(lower: .open(0), upper: nil)
    /// Finite numbers of 0 or more.
    public static let nonNegative = ValueRange(lower: .closed(0), upper: nil)

    /// Whether `x` is finite and within both ends.
    public func contains(_ x: Double) -> Bool {
        guard x.isFinite else { return false }
        switch lower {
        case let .closed(v)?: if x < v { return false }
        case let .open(v)?: if x <= v { return false }
        case nil: break
        }
        switch upper {
        case let .closed(v)?: if x > v { return false }
        case let .open(v)?: if x >= v { return false }
        case nil: break
        }
        return true
    }

    /// What a value must be: "must be 1...64", "must be in (0, 1000]", "must be positive and finite",
    /// "must be 0 or more and finite", "must be finite"; with the subject and the note when given.
    public var requirement: String {
        let text: String
        switch (lower, upper) {
        case let (l?, u?) where integers && l.isClosed && u.isClosed:
            text = "\(Self.number(l.value))...\(Self.number(u.value))"
        case let (l?, u?):
            text = "in " + (l.isClosed ? "[" : "(") + Self.number(l.value) + ", " + Self.number(u.value) + (u.isClosed ? "]" : ")")
        case (.open(0)?, nil):
            text = "positive and finite"
        case let (.closed(v)?, nil):
            text = "\(Self.number(v)) or more and finite"
        case let (.open(v)?, nil):
            text = "above \(Self.number(v)) and finite"
        case let (nil, .closed(v)?):
            text = "\(Self.number(v)) or less and finite"
        case let (nil, .open(v)?):
            text = "below \(Self.number(v)) and finite"
        case (nil, nil):
            text = "finite"
        }
        return (subject.map { $0 + " " } ?? "") + "must be " + text + (note.map { " (\($0))" } ?? "")
    }

    /// `requirement` when `x` is outside the range, nil when it is inside.
    public func problem(_ x: Double) -> String? {
        contains(x) ? nil : requirement
    }

    /// A bound as written in a message: whole numbers without a fraction ("1000", not "1000.0").
    static func number(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)"
    }
}
