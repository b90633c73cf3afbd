import IdaNumerics

/// Streams a probe through a checkpoint's routers block by block, in token-major, layer-minor order,
/// with memory bounded by the block size.
public struct ProbeRouting: Sendable {
    /// The routers.
    public let checkpoint: RouterCheckpoint
    /// The tokens and hidden states.
    public let probe: Probe
    /// MoE block indices routed, ascending.
    public let layers: [Int]
    /// Tokens per block.
    public let blockSize: Int
    /// Routers actually used (top-k overrides applied).
    let routers: [Int: LayerRouter]

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
        self.blockSize = max(1, blockSize)
        self.routers = routers
    }

    /// Routes every block; `body` sees each block's token range and one result per layer (in `layers` order).
    /// Returns the per-layer metrics over the whole probe.
    @discardableResult
    public func run(keepLatents: Bool = false, reconstruct: Bool = false,
                    _ body: (Range<Int>, [RoutingResult]) throws -> Void = { _, _ in }) throws -> [Int: LayerMetrics] {
        var accumulators = layers.map { i in
            LayerMetricsAccumulator(experts: routers[i]?.experts ?? 0, components: routers[i]?.components ?? 0)
        }
        var start = 0
        while start < probe.count {
            let rows = start..<min(start + blockSize, probe.count)
            var results: [RoutingResult] = []
            for (slot, i) in layers.enumerated() {
                guard let router = routers[i] else { continue }
                let h = try probe.hidden(layer: i, rows: rows)
                let result = router.route(h, keepLatents: keepLatents, reconstruct: reconstruct)
                accumulators[slot].add(result)
                results.append(result)
            }
            try body(rows, results)
            start = rows.upperBound
        }
        var metrics: [Int: LayerMetrics] = [:]
        for (slot, i) in layers.enumerated() {
            metrics[i] = accumulators[slot].finish(priors: routers[i]?.priors)
        }
        return metrics
    }
}
