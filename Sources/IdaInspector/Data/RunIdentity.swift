import Foundation
import IdaFormats
import IdaRouting

/// Which run a directory holds, from its run.json read leniently: `runId` (32 hex digits drawn when
/// the run was created) or, in runs written before it existed, `created`.
public struct RunIdentity: Sendable, Equatable {
    /// run.json's `runId`, when present.
    public var runId: String?
    /// run.json's `created` (seconds since the Unix epoch), when present.
    public var created: Double?
    /// The settings summary for the title line (`RunSettings.summary`), escaped.
    public var settings: String?
    /// What the training panel says without steps (`RunSettings.trainingNote`: captures), escaped.
    public var trainingNote: String?
    /// What the loss is per (run.json `lossUnit`).
    public var lossUnit: LossUnit = .natsPerByte

    /// An identity from its parts.
    public init(runId: String?, created: Double?, settings: String? = nil) {
        self.runId = runId
        self.created = created
        self.settings = settings
    }

    /// The identity of a run's description.
    public init(_ run: RunDescription) {
        self.init(runId: run.runId, created: run.created, settings: RunSettings.summary(run))
        trainingNote = RunSettings.trainingNote(run)
        lossUnit = run.lossUnit
    }

    /// The identity of `directory`'s run.json, nil when it cannot be read or parsed (gone, being
    /// replaced, damaged).
    public static func read(directory: String) -> RunIdentity? {
        RunDescription.read(directory: directory).map(RunIdentity.init)
    }

    /// Whether `other` is another run: their ids differ or, when either lacks one, both have a
    /// `created` and those differ. Nothing to tell them by: the same run.
    public func isAnotherRun(than other: RunIdentity) -> Bool {
        if let a = runId, let b = other.runId { return a != b }
        if let a = created, let b = other.created { return a != b }
        return false
    }

    /// When the run was created, as "2027-01-15 09:00:00 UTC" (nil when run.json does not say).
    public var startedText: String? {
        guard let created, created.isFinite, abs(created) < 1e12 else { return nil }
        var seconds = time_t(created.rounded(.down))
        var parts = tm()
        guard gmtime_r(&seconds, &parts) != nil else { return nil }
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) UTC"
    }
}

/// What one poll of a followed run found.
public struct RunPoll: Sendable {
    /// Event lines completed since the last poll (after a replacement: the new run's from its start).
    public var events: [RunEvent]
    /// Snapshot steps that appeared since the last poll, ascending.
    public var snapshots: [Int]
    /// Whether a writer holds the run's lock, asked before the log was read (so a `done` written
    /// by a writer that then exits is in `events`).
    public var writer: RunLock.Writer
    /// The new run when run.json now names another run than the one followed so far.
    public var replacement: RunIdentity?
}
