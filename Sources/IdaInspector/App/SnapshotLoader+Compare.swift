import Foundation
import IdaFormats
import IdaAnalysis
import IdaRouting

extension SnapshotLoader {
    /// B's event log, read whole (complete lines only), when `spec` names a snapshot of another run
    /// than A's (its curves go on B's half and on A's Timeline); nil for A's own run, a checkpoint
    /// outside a run, or a log that cannot be read.
    public func otherRunHistory(_ spec: String) -> RunHistory? {
        guard let ref = try? CheckpointReference.resolve(spec), let dir = ref.runDirectory else { return nil }
        let runA: String? = if case let .run(a) = source { CheckpointReference.canonical(a) } else { nil }
        guard CheckpointReference.canonical(dir) != runA else { return nil }
        var reader = EventLogReader<RunEvent>(path: RunLayout(dir).events)
        guard let records = try? reader.readNew() else { return nil }
        var history = RunHistory()
        history.append(records)
        return history
    }

    /// Analyses the target (B) for the screens (and snapshot `stepA`, A, unless `previous` is already
    /// its analysis) and compares the two layer by layer. Each side streams its own snapshot probe (the router inputs at
    /// its step) unless `--probe` was given; the probes must hold the same tokens.
    public func compare(stepA: Int, target: CompareTarget, previous: SnapshotAnalysis?)
        -> Result<ComparisonResult, AnalysisFailure> {
        do {
            // With --text no probe file is needed: each checkpoint's model runs the text.
            func sides(_ step: Int) throws -> (String, String?) {
                text != nil ? (try checkpointPath(step: step), nil) : try paths(step: step)
            }
            let (pathA, probePathA) = try sides(stepA)
            let pathB: String, probePathB: String?, sameRun: Bool
            var settingsB: String?, historyB: RunHistory?
            switch target {
            case let .step(s):
                (pathB, probePathB) = try sides(s)
                if case .run = source { sameRun = true } else { sameRun = pathA == pathB }
            case let .checkpoint(spec):
                let ref = try CheckpointReference.resolve(spec)
                pathB = ref.path
                probePathB = ref.snapshotProbe
                let runA: String? = if case let .run(dir) = source { CheckpointReference.canonical(dir) } else { nil }
                sameRun = runA != nil && ref.runDirectory.map(CheckpointReference.canonical) == runA
                settingsB = ref.runDirectory.flatMap { RunSettings.summary(runDirectory: $0) }
                if !sameRun { historyB = otherRunHistory(spec) }
            }
            let checkpointA = try RouterCheckpoint(path: pathA)
            let checkpointB = try RouterCheckpoint(path: pathB)
            // `paths(step:)` has applied --probe to A (and to B when B is a step of this run); with --text
            // each side's own model runs the text.
            let probes = try text.map { try ComparisonProbes(textA: $0.probe(for: pathA), textB: $0.probe(for: pathB)) }
                ?? ComparisonProbes.resolve(override: probeOverride, checkpointA: pathA, probeA: probePathA, probeB: probePathB)
            let probeA = probes.a, probeB = probes.b
            // Each side is routed once: A's analysis is reused when it is of this checkpoint and probe,
            // and the per-layer comparison reads the analyses rather than routing again.
            func analysis(_ side: String, _ ck: RouterCheckpoint, _ probe: Probe) throws -> SnapshotAnalysis {
                do {
                    return try SnapshotAnalysis(checkpoint: ck, probe: probe, previous: previous, workers: workers)
                } catch let error as RoutingError {
                    throw ComparisonError.routing(side: side, problem: error.description)
                }
            }
            let analysisA = try previous.flatMap { $0.step == checkpointA.info.step && $0.tokenCount == probeA.count ? $0 : nil }
                ?? analysis("A (\(pathA))", checkpointA, probeA)
            let analysisB = try analysis("B (\(pathB))", checkpointB, probeB)
            let common = analysisA.layerOrder.filter { analysisB.layers[$0] != nil }
            guard !common.isEmpty else {
                throw ComparisonError.noCommonLayer(layersA: analysisA.layerOrder, layersB: analysisB.layerOrder)
            }
            let options = ComparisonOptions(sameRun: sameRun, domains: probeA.domainIDs(), domainNames: probeA.domainNames)
            var layers: [Int: LayerComparison] = [:]
            for i in common {
                guard let a = analysisA.layers[i], let b = analysisB.layers[i],
                      let routerA = checkpointA.routers[i], let routerB = checkpointB.routers[i] else { continue }
                layers[i] = try LayerComparison(LayerRoutingSummary(a, router: routerA), LayerRoutingSummary(b, router: routerB),
                                                options: options)
            }
            var result = ComparisonResult(analysis: analysisB, layers: layers, step: checkpointB.info.step, sameRun: sameRun)
            result.basis = probes.basis
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
