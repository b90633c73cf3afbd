/// The IDA gate temperature T (top-k gate weights are scores to the power 1/T, renormalised): its
/// one home (docs/decisions.md, "Defaults").
public enum GateTemperature {
    /// What a checkpoint or run.json without the setting means: runs written before it existed, and
    /// routers built without saying, route with T = 1.
    public static let absent = 1.0
    /// New training runs: T = 4 closes most of the quality gap at no cost in balance (docs/results.md).
    public static let newRuns = 4.0
    /// The largest temperature allowed.
    public static let upperBound = 1_000.0
    /// The allowed range, (0, 1000]: the settings table's, the checkpoint reader's and the schema's.
    public static let range = ValueRange(lower: .open(0), upper: .closed(upperBound))

    /// The problem with `t` ("must be in (0, 1000]"), nil when it is in the range.
    public static func problem(_ t: Double) -> String? {
        range.problem(t)
    }
}
