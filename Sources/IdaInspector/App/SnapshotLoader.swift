import Foundation
import IdaFormats
import IdaRouting

/// Runs bytes of text through the full model stored in a checkpoint file and returns them as a
/// probe (tokens and router inputs at every MoE block); throws when the file holds routers only.
public typealias TextProber = @Sendable (_ bytes: [UInt8], _ checkpoint: String) throws -> Probe

/// Finds the checkpoint and probe for a snapshot step of a source and analyses them.
public struct SnapshotLoader: Sendable {
    /// The source.
    public let source: RunSource
    /// A probe to stream instead of the run's own (`--probe`).
    public let probeOverride: String?
    /// Threads routing an analysis (each runs BLAS single-threaded; results do not depend on it).
    public let workers: Int
    /// A text run through each snapshot's own model instead of the run's probe (`--text`).
    public let text: TextProbes?

    /// A loader for `source`.
    public init(source: RunSource, probeOverride: String?, workers: Int = 1, text: TextProbes? = nil) {
        self.source = source
        self.probeOverride = probeOverride
        self.workers = max(1, workers)
        self.text = text
    }

    /// The checkpoint of `step` and the probe an analysis streams through it: the text run through its
    /// model with `--text`, else the probe of `paths(step:)`.
    public func probe(step: Int) throws -> (checkpoint: String, probe: Probe) {
        if let text {
            let checkpoint = try checkpointPath(step: step)
            return (checkpoint, try text.probe(for: checkpoint))
        }
        let (checkpoint, probe) = try paths(step: step)
        return (checkpoint, try Probe(path: probe))
    }

    /// The step a single checkpoint holds: its `idamoe.step`, else its file name's
    /// (`step-XXXXXXXX.safetensors`), else 0.
    public var checkpointStep: Int {
        guard case let .checkpoint(path, _) = source else { return 0 }
        if let file = try? SafetensorsFile(path: path), let step = (try? CheckpointInfo(file: file))?.step { return step }
        return RunLayout.snapshotStep(fileName: URL(fileURLWithPath: path).lastPathComponent) ?? 0
    }

    /// Whether each snapshot's probe carries its own tokens: a run without a run-level probe.safetensors
    /// (an import of recorded decisions), read without `--text` or `--probe`.
    var snapshotOwnsText: Bool {
        guard text == nil, probeOverride == nil, case let .run(dir) = source else { return false }
        return !FileManager.default.fileExists(atPath: RunLayout(dir).probe)
    }

    /// The checkpoint file of `step`.
    func checkpointPath(step: Int) throws -> String {
        switch source {
        case let .run(dir): return RunFollower(directory: dir).checkpointPath(step: step)
        case let .checkpoint(path, _): return path
        }
    }

    /// Checkpoint and probe paths for `step` (ignored for a single checkpoint).
    public func paths(step: Int) throws -> (checkpoint: String, probe: String) {
        switch source {
        case let .run(dir):
            let follower = RunFollower(directory: dir)
            return (follower.checkpointPath(step: step), probeOverride ?? follower.probePath(step: step))
        case let .checkpoint(path, probe):
            if let p = probeOverride ?? probe { return (path, p) }
            // A snapshot inside a run directory has its probe next to it.
            if let sibling = RunLayout.probeBeside(checkpoint: path) { return (path, sibling) }
            throw AnalysisFailure("\(path): no probe to stream; pass --probe FILE (a probe with layers.{i}.hidden)")
        }
    }

    /// Routes the probe through the snapshot's routers, MoE block `first` first; `progress` sees the
    /// analysis after each layer but the last.
    public func analyze(step: Int, previous: SnapshotAnalysis?, first: Int? = nil, prefer: (() -> Int?)? = nil,
                        until: ((SnapshotAnalysis) -> Bool)? = nil,
                        progress: ((SnapshotAnalysis) -> Void)? = nil) -> Result<SnapshotAnalysis, AnalysisFailure> {
        do {
            let (ck, pr) = try probe(step: step)
            let own = snapshotOwnsText ? ProbeText(pr) : nil
            var analysis = try SnapshotAnalysis(checkpoint: RouterCheckpoint(path: ck), probe: pr,
                                                previous: previous, workers: workers, first: first, prefer: prefer,
                                                until: until, progress: progress.map { report in
                                                    { partial in
                                                        var partial = partial
                                                        partial.ownText = own
                                                        report(partial)
                                                    }
                                                })
            analysis.ownText = own
            return .success(analysis)
        } catch let failure as AnalysisFailure {
            return .failure(failure)
        } catch {
            return .failure(AnalysisFailure(String(describing: error)))
        }
    }

    /// Runs `text` through the model of snapshot `step` with `prober` and routes it.
    public func analyzeText(_ text: String, step: Int, prober: TextProber?) -> Result<SnapshotAnalysis, AnalysisFailure> {
        guard let prober else { return .failure(AnalysisFailure("live text is not available in this session")) }
        do {
            let checkpoint = try checkpointPath(step: step)
            let probe = try prober(Array(text.utf8), checkpoint)
            return .success(try SnapshotAnalysis(checkpoint: RouterCheckpoint(path: checkpoint), probe: probe, previous: nil,
                                                 workers: workers))
        } catch let failure as AnalysisFailure {
            return .failure(failure)
        } catch {
            return .failure(AnalysisFailure(String(describing: error)))
        }
    }

    /// What the tokens screen shows of the probe: the text of `--text`, else the probe's tokens.
    public func probeForText(step: Int?) -> ProbeText? {
        if let text { return text.text }
        if let p = probeOverride { return (try? Probe(path: p)).map(ProbeText.init) }
        switch source {
        case let .run(dir):
            return (try? Probe(path: RunLayout(dir).probe)).map(ProbeText.init)
        case .checkpoint:
            return (try? paths(step: step ?? 0)).flatMap { try? Probe(path: $0.probe) }.map(ProbeText.init)
        }
    }
}
