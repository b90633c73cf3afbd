/// The IDA gate temperature T (top-k gate weights are scores to the power 1/T, renormalised): its
/// one home (docs/decisions.md, "Defaults").
public enum GateTemperature {
    /// What a checkpoint or run.json without the setting means: runs written before it existed, and
    /// routers built without saying, route with T = 1.
    public static let absent = 1.0
    /// New training runs: T = 4 closes most of the quality gap at no cost in balance (docs/results.md).
    public static let newRuns = 4.0
    /// The allowed range, (0, 1000].
    public static let upperBound = 1_000.0

    /// The problem with `t`, nil when it is in (0, 1000].
    public static func problem(_ t: Double) -> String? {
        t > 0 && t <= upperBound ? nil : "must be in (0, 1000]"
    }
}
