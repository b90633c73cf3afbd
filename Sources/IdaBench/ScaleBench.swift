import IdaBLAS
import IdaInspector
import IdaRouting
import IdaSystem
import IdaTerminal

/// `idamoe bench scale`'s measures on a large synthetic case (`SyntheticCase`): the inspector (time
/// to first frame, memory, render and key latency) and `idamoe route`'s table path (throughput, CPU
/// against GEMM time and against the GEMMs' compute bound).
public enum ScaleBench {
    /// The inspector on a checkpoint and probe, analysed layer-first as the interactive inspector runs
    /// it, the first frame drawn as soon as the shown layer is in.
    public struct Inspection {
        /// The checkpoint's routers.
        public let checkpoint: RouterCheckpoint
        /// Probe tokens N.
        public let tokens: Int
        /// The state with the whole analysis, at the measured size.
        public let state: InspectorState
        /// From opening the files to the first frame drawn (s).
        public let firstFrameSeconds: Double
        /// From opening the files to every layer analysed (s).
        public let analysisSeconds: Double
        /// Resident memory right after the analysis (MiB).
        public let residentMiB: Double
        /// Peak resident memory right after the analysis (MiB).
        public let peakMiB: Double

        /// Opens the files and analyses every layer on `workers` threads for a `width` x `height` screen,
        /// the Overview showing the expert-parallel view over `ep` ranks when given.
        public init(checkpoint checkpointPath: String, probe probePath: String, workers: Int, width: Int, height: Int,
                    ep: Int?) throws {
            let t0 = monotonicSeconds()
            let ck = try RouterCheckpoint(path: checkpointPath), probe = try Probe(path: probePath)
            var state = InspectorState(title: checkpointPath, live: false, expertParallel: ExpertParallelPlan(ranks: ep))
            state.width = width
            state.height = height
            state.tokens = probe.tokenIDs()
            state.domains = probe.domainIDs()
            state.domainNames = probe.domainNames
            var firstFrame: Double?
            let analysis = try SnapshotAnalysis(checkpoint: ck, probe: probe, workers: workers, first: ck.info.moeLayers.first,
                                                progress: { partial in
                guard firstFrame == nil else { return }
                var shown = state
                shown.analysis = partial
                _ = ScaleBench.render(shown)
                firstFrame = monotonicSeconds() - t0
            })
            let all = monotonicSeconds() - t0
            state.analysis = analysis
            checkpoint = ck
            tokens = probe.count
            self.state = state
            analysisSeconds = all
            firstFrameSeconds = firstFrame ?? all
            residentMiB = ResourceUsage.residentMiB()
            peakMiB = ResourceUsage.peakResidentMiB()
        }

        /// Milliseconds of `repeats` renders of `screen`.
        public func renderMilliseconds(_ screen: Screen, repeats: Int = 5) -> [Double] {
            var s = state
            s.screen = screen
            return (0..<repeats).map { _ in Stopwatch.milliseconds { _ = ScaleBench.render(s) } }
        }

        /// Milliseconds of `presses` presses of the key sequence `keys` on `screen`, each applied as the
        /// runtime applies a key and followed by a render.
        public func keyMilliseconds(_ keys: [Key], on screen: Screen, presses: Int) -> [Double] {
            var s = state
            s.screen = screen
            return (0..<presses).map { _ in
                Stopwatch.milliseconds {
                    // As the runtime applies a key: the views' geometry first, so a page key pages a screenful.
                    for key in keys { _ = InspectorApp.update(&s, with: .key(key)) }
                    _ = ScaleBench.render(s)
                }
            }
        }
    }

    /// Screens rendered, in order.
    public static let screens: [Screen] = [.overview, .layer, .latent, .tokens]

    /// Keys measured: label, screen the presses start on, keys pressed in turn.
    public static let keys: [(String, Screen, [Key])] = [
        ("overview: next layer row (j)", .overview, [.character("j")]), ("overview: page (PgDn)", .overview, [.pageDown]),
        ("overview: next expert (.)", .overview, [.character(".")]), ("layer: next expert (j)", .layer, [.character("j")]),
        ("layer: page (PgDn)", .layer, [.pageDown]), ("layer: order (o)", .layer, [.character("o")]),
        ("layer: next layer (])", .layer, [.character("]")]), ("latent: next expert (.)", .latent, [.character(".")]),
        ("jump: / e 9 9 Enter", .layer, [.character("/"), .character("e"), .character("9"), .character("9"), .enter]),
    ]

    /// `state` drawn into a fresh buffer of its size.
    public static func render(_ state: InspectorState) -> ScreenBuffer {
        var buffer = ScreenBuffer(width: state.width, height: state.height)
        InspectorView.render(state, mode: .full, into: &buffer)
        return buffer
    }

    /// `idamoe route`'s table path timed: every token through every layer, the metrics folded.
    public struct Routing {
        /// MoE layers routed.
        public let layers: Int
        /// Probe tokens N.
        public let tokens: Int
        /// Tokens per routed block.
        public let blockSize: Int
        /// Wall time of the routing (s).
        public let seconds: Double
        /// Process CPU time of the routing, every thread (s).
        public let cpuSeconds: Double
        /// Time the routing's threads spent inside GEMM calls (s).
        public let gemmSeconds: Double
        /// Peak resident memory after the routing (MiB).
        public let peakMiB: Double
        /// FLOPs of the float GEMMs (the encoders) and of the double ones (the mixture), padded tiles included.
        public let floatFLOPs: Double, doubleFLOPs: Double

        /// Routes every token of the probe through every layer of the checkpoint on `workers` threads.
        public init(checkpoint checkpointPath: String, probe probePath: String, workers: Int) throws {
            let ck = try RouterCheckpoint(path: checkpointPath), probe = try Probe(path: probePath)
            let routing = try ProbeRouting(checkpoint: ck, probe: probe)
            BLAS.gemmSeconds = 0
            BLAS.profiling = true
            let cpu0 = ResourceUsage.cpuSeconds()
            let t0 = monotonicSeconds()
            try routing.run(workers: workers, detail: .decisions, transform: { _, _ in () }, consume: { _ in })
            seconds = monotonicSeconds() - t0
            cpuSeconds = ResourceUsage.cpuSeconds() - cpu0
            BLAS.profiling = false
            peakMiB = ResourceUsage.peakResidentMiB()
            gemmSeconds = BLAS.gemmSeconds
            layers = routing.layers.count
            tokens = probe.count
            blockSize = routing.blockSize
            var floatFLOPs = 0.0, doubleFLOPs = 0.0
            let tile = ProbeRouting.tileRows
            let padded = Double((probe.count + tile - 1) / tile * tile)  // the last tile is padded
            for i in routing.layers {
                guard case let .ida(r)? = ck.routers[i] else { continue }
                floatFLOPs += padded * r.encoder.layers.reduce(0) { $0 + 2 * Double($1.inputs * $1.outputs) }
                doubleFLOPs += padded * 2 * Double((2 * r.config.latentDim + 1) * r.config.components)
            }
            self.floatFLOPs = floatFLOPs
            self.doubleFLOPs = doubleFLOPs
        }

        /// The GEMMs' compute bound: their FLOPs at one core's 1024^3 sgemm and dgemm peaks, measured now.
        public func computeBound() -> (seconds: Double, sgemmPeak: Double, dgemmPeak: Double) {
            let sPeak = GEMMPeaks.sgemm(threads: 1), dPeak = GEMMPeaks.dgemm()
            return (floatFLOPs / (sPeak * 1e9) + doubleFLOPs / (dPeak * 1e9), sPeak, dPeak)
        }
    }
}
