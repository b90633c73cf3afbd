/// A fixed-capacity ring of Doubles (a metric's recent history), kept apart from how it is drawn.
public struct HistoryRing: Equatable, Sendable {
    /// The most values kept; older ones are dropped first.
    public let capacity: Int
    private var storage: [Double] = []
    private var start = 0

    /// Creates an empty ring; a negative capacity becomes 0.
    public init(capacity: Int) {
        self.capacity = Swift.max(0, capacity)
        storage.reserveCapacity(self.capacity)
    }

    /// Creates a ring holding the last `capacity` of `values`.
    public init<S: Sequence>(capacity: Int, values: S) where S.Element == Double {
        self.init(capacity: capacity)
        append(contentsOf: values)
    }

    /// Number of values held.
    public var count: Int { storage.count }
    /// Whether no value is held.
    public var isEmpty: Bool { storage.isEmpty }

    /// Adds a value, dropping the oldest when full.
    public mutating func append(_ value: Double) {
        guard capacity > 0 else { return }
        if storage.count < capacity {
            storage.append(value)
        } else {
            storage[start] = value
            start = (start + 1) % capacity
        }
    }

    /// Adds values in order.
    public mutating func append<S: Sequence>(contentsOf values: S) where S.Element == Double {
        for value in values { append(value) }
    }

    /// Drops every value.
    public mutating func removeAll() {
        storage.removeAll(keepingCapacity: true)
        start = 0
    }

    /// The value `index` places after the oldest, or nil outside.
    public func value(at index: Int) -> Double? {
        guard index >= 0, index < storage.count else { return nil }
        return storage[(start + index) % storage.count]
    }

    /// Values from oldest to newest.
    public var values: [Double] {
        Array(storage[start...] + storage[..<start])
    }

    /// The newest value.
    public var last: Double? { value(at: storage.count - 1) }

    /// The smallest value that is not NaN.
    public var min: Double? { storage.filter { !$0.isNaN }.min() }

    /// The largest value that is not NaN.
    public var max: Double? { storage.filter { !$0.isNaN }.max() }

    /// Rings are equal when they have the same capacity and the same values in the same order.
    public static func == (lhs: HistoryRing, rhs: HistoryRing) -> Bool {
        lhs.capacity == rhs.capacity && lhs.values == rhs.values
    }
}
