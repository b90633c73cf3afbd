import Foundation
import Synchronization
import IdaNumerics

/// Streams a probe through a checkpoint's routers block by block, in token-major, layer-minor order,
/// with memory bounded by the block size.
///
/// Results do not depend on the block size or the number of workers, by construction: tokens are
/// routed in tiles of `tileRows` aligned to multiples of it from the first token, the last tile padded
/// with zero rows, so every GEMM sees the same inputs and shapes whatever the blocking; blocks are whole
/// tiles, each tile is routed by one worker, and the per-layer sums run over tiles in token order. With
/// one BLAS thread per worker (as `idamoe route`, `diff` and `inspect` run) the printed digits are
/// the same for any `--threads` and `--block-size` on one machine and kernel (docs/decisions.md).
public struct ProbeRouting: Sendable {
    /// Tokens per routed tile: the row count of every GEMM a router runs on the probe.
    public static let tileRows = 1024

    /// The routers.
    public let checkpoint: RouterCheckpoint
    /// The tokens and hidden states.
    public let probe: Probe
    /// MoE block indices routed, ascending.
    public let layers: [Int]
    /// Tokens per block: a whole number of tiles, handed to one worker at a time.
    public let blockSize: Int
    /// Routers actually used (top-k overrides applied).
    public let routers: [Int: LayerRouter]
    /// Each IDA router's mixture quantities, computed once instead of once per tile.
    let mixtures: [Int: DiagonalGMM.JointTerms]

    /// Checks that every requested layer exists in both files with matching hidden widths.
    public init(checkpoint: RouterCheckpoint, probe: Probe, layer: Int? = nil, topK: Int? = nil,
                blockSize: Int = 2048) throws {
        let available = checkpoint.info.moeLayers
        let layers: [Int]
        if let layer {
            guard available.contains(layer) else { throw RoutingError.unknownLayer(layer: layer, available: available) }
            layers = [layer]
        } else {
            layers = available
        }
        var routers: [Int: LayerRouter] = [:]
        for i in layers {
            guard var router = checkpoint.routers[i] else { throw RoutingError.unknownLayer(layer: i, available: available) }
            if case let .recorded(r) = router {
                // Recorded decisions come from the probe's records, which must be of this k.
                guard let columns = probe.recordedLayers[i] else {
                    throw RoutingError.missingLayer(path: probe.file.path, layer: i, available: probe.recordedLayers.keys.sorted())
                }
                guard columns.topK == r.topK else {
                    throw RoutingError.shapeMismatch(path: probe.file.path, tensor: "layers.\(i).experts",
                                                     expected: "[\(probe.count), \(r.topK)] (the checkpoint's top_k)",
                                                     found: [probe.count, columns.topK])
                }
                if let topK { router = try router.withTopK(topK) }
                routers[i] = router
                continue
            }
            guard let d = probe.hiddenDims[i] else {
                throw RoutingError.missingLayer(path: probe.file.path, layer: i, available: probe.layers)
            }
            guard d == router.hiddenDim else {
                throw RoutingError.shapeMismatch(path: probe.file.path, tensor: "layers.\(i).hidden",
                                                 expected: "[\(probe.count), \(router.hiddenDim)] (the router's hidden width)",
                                                 found: [probe.count, d])
            }
            if let topK { router = try router.withTopK(topK) }
            routers[i] = router
        }
        self.checkpoint = checkpoint
        self.probe = probe
        self.layers = layers
        let tile = Self.tileRows
        self.blockSize = (max(1, blockSize) + tile - 1) / tile * tile
        self.routers = routers
        self.mixtures = routers.compactMapValues { $0.mixture() }
    }

    /// Routes every block; `body` sees each block's token range and one result per layer (in `layers` order).
    /// Returns the per-layer metrics over the whole probe.
    @discardableResult
    public func run(keepLatents: Bool = false, reconstruct: Bool = false,
                    _ body: (Range<Int>, [RoutingResult]) throws -> Void = { _, _ in }) throws -> [Int: LayerMetrics] {
        try run(workers: 1, keepLatents: keepLatents, reconstruct: reconstruct,
                transform: { rows, results in (rows, results) },
                consume: { pair in try body(pair.0, pair.1) })
    }

    /// Routes blocks on `workers` threads at a time. `transform` runs on the worker that routed a tile
    /// (for example to format its output); `consume` then sees the tiles strictly in token order, so the
    /// output does not depend on the number of workers. Memory stays bounded by workers x block size.
    /// `detail` says what `transform` sees of each layer's result beyond the decisions (anything left
    /// out is never computed or is dropped as soon as the layer is routed, so a tile through many
    /// layers never holds many N x K arrays at once).
    @discardableResult
    public func run<T: Sendable>(workers: Int, keepLatents: Bool = false, reconstruct: Bool = false,
                                 detail: RoutingDetail = .posteriors,
                       transform: @Sendable (Range<Int>, [RoutingResult]) -> T,
                       consume: (T) throws -> Void) throws -> [Int: LayerMetrics] {
        var accumulators = layers.map { i in
            LayerMetricsAccumulator(experts: routers[i]?.experts ?? 0, components: routers[i]?.components ?? 0)
        }
        let blocks = stride(from: 0, to: probe.count, by: blockSize).map { $0..<min($0 + blockSize, probe.count) }
        let lanes = max(1, workers)
        var next = 0
        while next < blocks.count {
            let wave = Array(blocks[next..<min(next + lanes, blocks.count)])
            let slots = WaveSlots<[(results: [RoutingResult], output: T)]>(count: wave.count)
            DispatchQueue.concurrentPerform(iterations: wave.count) { w in
                do {
                    var tiles: [(results: [RoutingResult], output: T)] = []
                    for start in stride(from: wave[w].lowerBound, to: wave[w].upperBound, by: Self.tileRows) {
                        let rows = start..<min(start + Self.tileRows, wave[w].upperBound)
                        let results = try routeTile(rows, keepLatents: keepLatents, reconstruct: reconstruct,
                                                    detail: detail)
                        let output = transform(rows, results)
                        // The metrics need the decisions, not the N x K posteriors: kept until the
                        // wave is folded in order, the slim copies bound memory by the block size.
                        tiles.append((results.map { Self.slim($0) }, output))
                    }
                    slots.set(w, .success(tiles))
                } catch {
                    slots.set(w, .failure(error))
                }
            }
            for w in 0..<wave.count {
                for (results, output) in try slots.get(w) {
                    for (slot, result) in results.enumerated() { accumulators[slot].add(result) }
                    try consume(output)
                }
            }
            next += wave.count
        }
        var metrics: [Int: LayerMetrics] = [:]
        for (slot, i) in layers.enumerated() {
            metrics[i] = accumulators[slot].finish(priors: routers[i]?.priors, priorMass: routers[i]?.priorMass ?? .global)
        }
        return metrics
    }

    /// What `LayerMetricsAccumulator` reads of a result: without the posteriors, expert
    /// probabilities and latents.
    static func slim(_ result: RoutingResult, keepLatents: Bool = false) -> RoutingResult {
        var r = result
        r.posterior = []
        r.expertProbabilities = []
        if !keepLatents {
            r.latents = nil
            r.reconstructionError = nil
        }
        return r
    }

    /// Routes one tile (at most `tileRows` tokens starting at a multiple of it) through every layer,
    /// padding it to `tileRows` rows so the GEMMs' shapes never change.
    func routeTile(_ rows: Range<Int>, keepLatents: Bool, reconstruct: Bool,
                   detail: RoutingDetail = .posteriors) throws -> [RoutingResult] {
        var results: [RoutingResult] = []
        for i in layers {
            guard let router = routers[i] else { continue }
            if case let .recorded(r) = router {
                let records = try probe.recorded(layer: i, rows: rows, experts: r.experts)
                let result = r.result(tokens: rows.count, selected: records.selected, weights: records.weights, logits: records.logits)
                results.append(detail.expertProbabilities ? result : Self.slim(result, keepLatents: keepLatents))
                continue
            }
            // A whole tile of F32 rows goes from the mapping straight into the encoder's first GEMM; the
            // check for non-finite values reads that GEMM's output (a NaN or infinity in a row makes
            // every value of its output row non-finite), 1/D of the work of reading the rows again.
            if rows.count == Self.tileRows, !reconstruct, case let .ida(r) = router,
               let routed = try probe.withMappedHidden(layer: i, rows: rows, { x -> RoutingResult? in
                   guard let base = x.baseAddress else { return nil }
                   return try r.route(rows: base, count: rows.count, keepLatents: keepLatents,
                                      posteriors: detail.posteriors, rankComponents: detail.rankedComponents,
                                      mixture: mixtures[i]) { first in
                       if !Probe.sumIsFinite(first.data) { try probe.requireFinite(x, layer: i, rows: rows) }
                   }
               }), let result = routed {
                probe.release(layer: i, rows: rows)
                results.append(detail.expertProbabilities ? result : Self.slim(result, keepLatents: keepLatents))
                continue
            }
            var h = try probe.hidden(layer: i, rows: rows)
            // Converted: the mapped pages may go, with the kernel's fault-around window on either side
            // (`SafetensorsFile.releaseRows`); a page released early is only read again.
            probe.release(layer: i, rows: rows)
            if rows.count < Self.tileRows {
                h.data.append(contentsOf: repeatElement(0, count: (Self.tileRows - rows.count) * h.cols))
                h.rows = Self.tileRows
            }
            let result = router.route(consume h, keepLatents: keepLatents, reconstruct: reconstruct,
                                      posteriors: detail.posteriors, rankComponents: detail.rankedComponents,
                                      mixture: mixtures[i]).prefix(rows.count)
            results.append(detail.expertProbabilities ? result : Self.slim(result, keepLatents: keepLatents))
        }
        return results
    }
}

/// What each routed layer's result keeps beyond the decisions (selected experts, gates, entropy,
/// log p(z), the most probable component).
public enum RoutingDetail: Sendable {
    /// Posteriors [N, K] and expert probabilities [N, E] (`route --posterior`, tests).
    case posteriors
    /// Neither (`route`'s table, `diff`, the benchmarks).
    case decisions
    /// Expert probabilities and each token's `components` most probable components with their
    /// posteriors (`RoutingResult.rankedComponents`), no N x K posteriors (the inspector).
    case ranked(components: Int)

    /// Whether the router writes the N x K posteriors.
    var posteriors: Bool {
        if case .posteriors = self { return true }
        return false
    }

    /// How many components the router ranks per token (0: none).
    var rankedComponents: Int {
        if case let .ranked(components) = self { return components }
        return 0
    }

    /// Whether the result keeps q over experts (else it is slimmed to the decisions).
    var expertProbabilities: Bool {
        if case .decisions = self { return false }
        return true
    }
}

/// One result slot per worker of a wave, written once by that worker and read after the wave.
final class WaveSlots<T: Sendable>: Sendable {
    private let values: Mutex<[Result<T, Error>?]>

    init(count: Int) { values = Mutex(Array(repeating: nil, count: count)) }

    func set(_ index: Int, _ value: Result<T, Error>) {
        values.withLock { $0[index] = value }
    }

    func get(_ index: Int) throws -> T {
        guard let value = values.withLock({ $0[index] }) else {
            throw RoutingError.invalidOption("internal: block \(index) was not routed")
        }
        return try value.get()
    }
}
