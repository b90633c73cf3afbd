import Foundation
import IdaFormats
import IdaRouting

extension SnapshotLoader {
    /// Routes the probe through snapshot `stepA` (A) and the target (B), analyses B for the screens and
    /// compares the two layer by layer. Each side streams its own snapshot probe (the router inputs at
    /// its step) unless `--probe` was given; the probes must hold the same tokens.
    public func compare(stepA: Int, target: CompareTarget, previous: SnapshotAnalysis?)
        -> Result<ComparisonResult, AnalysisFailure> {
        do {
            let (pathA, probePathA) = try paths(step: stepA)
            let pathB: String, probePathB: String, sameRun: Bool
            var settingsB: String?, historyB: RunHistory?
            switch target {
            case let .step(s):
                (pathB, probePathB) = try paths(step: s)
                if case .run = source { sameRun = true } else { sameRun = pathA == pathB }
            case let .checkpoint(spec):
                let ref = try CheckpointReference.resolve(spec)
                pathB = ref.path
                probePathB = probeOverride ?? ref.snapshotProbe ?? probePathA
                let runA: String? = if case let .run(dir) = source { CheckpointReference.canonical(dir) } else { nil }
                sameRun = runA != nil && ref.runDirectory.map(CheckpointReference.canonical) == runA
                settingsB = ref.runDirectory.flatMap { RunSettings.summary(runDirectory: $0) }
                if !sameRun, let dir = ref.runDirectory {
                    // Another run: read its whole log (complete lines only) for B's curves.
                    var reader = EventLogReader(path: dir + "/events.jsonl")
                    if let records = try? reader.readNew() {
                        var history = RunHistory()
                        history.append(records)
                        historyB = history
                    }
                }
            }
            let checkpointA = try RouterCheckpoint(path: pathA), probeA = try Probe(path: probePathA)
            let checkpointB = try RouterCheckpoint(path: pathB)
            let probeB = probePathB == probePathA ? probeA : try Probe(path: probePathB)
            guard probeA.tokens == probeB.tokens else {
                throw AnalysisFailure("\(probePathB) holds other tokens than \(probePathA); start with --probe FILE to stream one probe through both")
            }
            let analysisB = try SnapshotAnalysis(checkpoint: checkpointB, probe: probeB, previous: previous)
            let options = ComparisonOptions(sameRun: sameRun, domains: probeA.domains, domainNames: probeA.domainNames)
            let layers = try CheckpointComparison.compare(checkpointA, probeA, checkpointB, probeB, options: options,
                                                          sides: ("A (\(pathA))", "B (\(pathB))"))
            var result = ComparisonResult(analysis: analysisB, layers: Dictionary(uniqueKeysWithValues: layers.map { ($0.layer, $0) }),
                                             step: checkpointB.info.step, sameRun: sameRun)
            result.settings = settingsB
            result.history = historyB
            return .success(result)
        } catch let failure as AnalysisFailure {
            return .failure(failure)
        } catch {
            return .failure(AnalysisFailure(String(describing: error)))
        }
    }
}
