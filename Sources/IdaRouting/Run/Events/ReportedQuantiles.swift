import IdaNumerics

/// p50, p90, p99 and max of a distribution (`LayerMetrics.reportedQuantiles` by `LayerMetrics.quantiles`),
/// as an event writes them: the object `{"p50", "p90", "p99", "max"}` of the step and eval layers'
/// `load_quantiles`, the same figures `idamoe route --json` reports per layer.
public struct ReportedQuantiles: Sendable, Equatable, Codable {
    public var p50: Double, p90: Double, p99: Double, max: Double

    /// The four figures as given.
    public init(p50: Double, p90: Double, p99: Double, max: Double) {
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.max = max
    }

    /// The reported quantiles of `values` (all 0 for no values).
    public init(of values: [Double]) {
        let q = LayerMetrics.quantiles(values, LayerMetrics.reportedQuantiles)
        self.init(p50: q[0], p90: q[1], p99: q[2], max: q[3])
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case p50, p90, p99, max }

    /// Reads the four figures (`null` is NaN); an object missing one, or holding a non-number, is not
    /// quantiles (the enclosing reader treats the field as absent).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func read(_ key: CodingKeys) throws -> Double {
            guard let x = c.figure(key) else {
                throw DecodingError.keyNotFound(key, .init(codingPath: c.codingPath, debugDescription: "no \(key.stringValue)"))
            }
            return x
        }
        self.init(p50: try read(.p50), p90: try read(.p90), p99: try read(.p99), max: try read(.max))
    }

    /// Writes each figure rounded (`null` when not finite).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeFigure(p50, forKey: .p50)
        try c.encodeFigure(p90, forKey: .p90)
        try c.encodeFigure(p99, forKey: .p99)
        try c.encodeFigure(max, forKey: .max)
    }
}
