import Foundation
import Testing
import IdaFormats
import IdaNumerics
import IdaRouting
import IdaTestSupport

@Suite("Probe streaming")
struct ProbeRoutingTests {
    func collect(_ routing: ProbeRouting, workers: Int = 1) throws
        -> (selected: [Int32], density: [Double], posterior: [Double], metrics: [Int: LayerMetrics]) {
        var selected: [Int32] = []
        var density: [Double] = []
        var posterior: [Double] = []
        let metrics = try routing.run(workers: workers, transform: { _, results in results }, consume: { results in
            for r in results {
                selected += r.selected
                density += r.logDensity ?? []
                posterior += r.posterior
            }
        })
        return (selected, density, posterior, metrics)
    }

    /// Same tiles at the same positions whatever the block size and worker count, so every value is
    /// equal by construction (docs/decisions.md); 2,600 tokens span two full tiles and a padded one.
    @Test("results do not depend on the block size or workers: equal by construction")
    func blockInvariance() throws {
        let dir = temporaryDirectory()
        try writeProbe(to: dir + "/p.safetensors", count: 2 * ProbeRouting.tileRows + 552)
        let ck = try makeIDACheckpoint()
        let probe = try Probe(path: dir + "/p.safetensors")
        let small = try collect(ProbeRouting(checkpoint: ck, probe: probe, blockSize: 4))
        let large = try collect(ProbeRouting(checkpoint: ck, probe: probe, blockSize: 3000), workers: 2)
        #expect(try ProbeRouting(checkpoint: ck, probe: probe, blockSize: ProbeRouting.tileRows + 1).blockSize
                == 2 * ProbeRouting.tileRows)
        #expect(small.selected == large.selected)
        #expect(small.density == large.density)
        #expect(small.posterior == large.posterior)
        #expect(small.metrics == large.metrics)
        let one = try collect(ProbeRouting(checkpoint: ck, probe: probe, layer: 3, blockSize: 5), workers: 3)
        let other = try collect(ProbeRouting(checkpoint: ck, probe: probe, layer: 3, blockSize: 2600))
        #expect(one.selected == other.selected && one.density == other.density)
        #expect(small.metrics[3] == one.metrics[3])
    }

    /// A direct route of all 23 tokens runs GEMMs of another shape than the padded tile, so
    /// only tolerances and the decisions away from ties must agree.
    @Test("tiled routing matches a direct route of the whole matrix within tolerance")
    func matchesDirectRoute() throws {
        let dir = temporaryDirectory()
        try writeProbe(to: dir + "/p.safetensors", count: 23)
        let ck = try makeIDACheckpoint()
        let probe = try Probe(path: dir + "/p.safetensors")
        guard case let .ida(router)? = ck.routers[3] else { Issue.record("no router"); return }
        var tiled: RoutingResult?
        let metrics = try ProbeRouting(checkpoint: ck, probe: probe, layer: 3).run { _, results in tiled = results.first }
        let expected = router.route(try probe.hidden(layer: 3, rows: 0..<23))
        let result = try #require(tiled)
        let density = checkTensor("log density", result.logDensity ?? [], expected.logDensity ?? [], rtol: 1e-5, atol: 1e-5)
        #expect(density.ok, "\(density)")
        let posterior = checkTensor("posterior", result.posterior, expected.posterior, rtol: 1e-4, atol: 1e-6)
        #expect(posterior.ok, "\(posterior)")
        #expect(choicesDifferingAwayFromTies(result, expected, componentsPerExpert: 2).isEmpty)
        var acc = LayerMetricsAccumulator(experts: 3, components: 6)
        acc.add(expected)
        let direct = acc.finish(priors: router.gmm.priors)
        let m = try #require(metrics[3])
        #expect(m.tokens == direct.tokens)
        #expect(checkTensor("load", m.load, direct.load, rtol: 0, atol: 1e-9).ok)
        #expect(abs(m.meanEntropyBits - direct.meanEntropyBits) < 1e-5)
        #expect(abs(m.load.reduce(0, +) - 1) < 1e-12)
    }

    /// Whole tiles of F32 rows on a 4-byte boundary go from the mapping into the encoder; F64 rows, a
    /// misaligned F32 tensor and the padded last tile are converted into a matrix first. The same
    /// values take the same GEMMs either way, so every result is equal, bit for bit.
    @Test("rows read in place route exactly as converted copies")
    func inPlaceRows() throws {
        let dir = temporaryDirectory()
        let count = 2 * ProbeRouting.tileRows + 40
        try writeProbe(to: dir + "/f32.safetensors", count: count)
        try writeProbe(to: dir + "/f64.safetensors", count: count, dtype: .f64)
        try writeProbe(to: dir + "/odd.safetensors", count: count, misaligned: true)
        let ck = try makeIDACheckpoint()
        let mapped = try Probe(path: dir + "/f32.safetensors")
        #expect(try mapped.withMappedHidden(layer: 1, rows: 0..<4) { $0.count } == 24)
        let odd = try Probe(path: dir + "/odd.safetensors")
        #expect(try odd.withMappedHidden(layer: 1, rows: 0..<4) { $0.count } == nil)
        #expect(try Probe(path: dir + "/f64.safetensors").withMappedHidden(layer: 1, rows: 0..<4) { $0.count } == nil)
        let reference = try collect(ProbeRouting(checkpoint: ck, probe: mapped), workers: 2)
        for name in ["f64", "odd"] {
            let other = try collect(ProbeRouting(checkpoint: ck, probe: Probe(path: "\(dir)/\(name).safetensors")))
            #expect(other.selected == reference.selected, "\(name)")
            #expect(other.density == reference.density, "\(name)")
            #expect(other.posterior == reference.posterior, "\(name)")
            #expect(other.metrics == reference.metrics, "\(name)")
        }
    }

    /// In a whole tile read in place, a bad value is found from the encoder's first GEMM output and
    /// then named exactly: NaN, +infinity and -infinity, in the first and a later tile.
    @Test("a non-finite value in a tile read in place is named with its element")
    func nonFiniteInPlace() throws {
        let dir = temporaryDirectory()
        let count = 2 * ProbeRouting.tileRows
        let ck = try makeIDACheckpoint()
        for (index, value) in [(5, Float.nan), (ProbeRouting.tileRows * 6 + 1_000, .infinity), (count * 6 - 1, -.infinity)] {
            let path = dir + "/bad\(index).safetensors"
            try writeProbe(to: path, count: count) { layer, values in if layer == 3 { values[index] = value } }
            let routing = try ProbeRouting(checkpoint: ck, probe: Probe(path: path))
            #expect(throws: RoutingError.nonFinite(path: path, tensor: "layers.3.hidden", index: index)) {
                try routing.run(workers: 2, transform: { _, _ in 0 }, consume: { _ in })
            }
        }
    }

    @Test("F16 and BF16 hidden states are read and routed")
    func halfPrecision() throws {
        let dir = temporaryDirectory()
        try writeProbe(to: dir + "/h.safetensors", count: 9, dtype: .f16)
        try writeProbe(to: dir + "/b.safetensors", count: 9, dtype: .bf16)
        let ck = try makeIDACheckpoint()
        for name in ["h", "b"] {
            let probe = try Probe(path: "\(dir)/\(name).safetensors")
            let m = try ProbeRouting(checkpoint: ck, probe: probe).run()
            #expect(m[1]?.tokens == 9)
        }
    }

    @Test("mismatched probes give one-line errors naming the tensor")
    func mismatches() throws {
        let dir = temporaryDirectory()
        let ck = try makeIDACheckpoint()
        try writeProbe(to: dir + "/wide.safetensors", count: 4, width: 7)
        let wide = try Probe(path: dir + "/wide.safetensors")
        #expect(throws: RoutingError.self) { try ProbeRouting(checkpoint: ck, probe: wide) }
        do {
            _ = try ProbeRouting(checkpoint: ck, probe: wide)
        } catch {
            #expect(String(describing: error).contains("layers.1.hidden has shape [4, 7], expected [4, 6]"))
        }
        try writeProbe(to: dir + "/one.safetensors", count: 4, layers: [1])
        let one = try Probe(path: dir + "/one.safetensors")
        do {
            _ = try ProbeRouting(checkpoint: ck, probe: one)
            Issue.record("missing layer accepted")
        } catch {
            #expect(String(describing: error).contains("no hidden states for MoE layer 3"))
        }
        #expect(throws: RoutingError.unknownLayer(layer: 2, available: [1, 3])) {
            try ProbeRouting(checkpoint: ck, probe: one, layer: 2)
        }
        #expect(throws: RoutingError.invalidOption("--top-k must be 1...3, got 4")) {
            try ProbeRouting(checkpoint: ck, probe: one, layer: 1, topK: 4)
        }
    }

    @Test("a NaN hidden state is reported with its tensor and element")
    func nanHidden() throws {
        var writer = SafetensorsWriter()
        try writer.add("tokens", shape: [3], int32s: [1, 2, 3])
        var h = [Float](repeating: 0.5, count: 18)
        h[13] = .nan
        try writer.add("layers.1.hidden", shape: [3, 6], floats: h)
        try writer.add("layers.3.hidden", shape: [3, 6], floats: [Float](repeating: 0.5, count: 18))
        let path = temporaryDirectory() + "/nan.safetensors"
        try writer.write(to: path)
        let routing = try ProbeRouting(checkpoint: makeIDACheckpoint(), probe: Probe(path: path))
        #expect(throws: RoutingError.nonFinite(path: path, tensor: "layers.1.hidden", index: 13)) {
            try routing.run()
        }
    }
}
