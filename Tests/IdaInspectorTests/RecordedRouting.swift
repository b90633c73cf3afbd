import Foundation
import IdaFormats
import IdaNumerics
import IdaRouting
import Testing

/// Routers and routings recorded once into Tests/IdaInspectorTests/Fixtures, so golden screens are
/// drawn from literal data rather than from numbers computed through BLAS at test time: another CPU,
/// kernel or thread count cannot change a screen (docs/decisions.md). A missing file is recorded
/// from `build`/`compute` (through BLAS, on the machine at hand) and the test fails until the new file
/// is reviewed and committed.
enum RecordedRouting {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// The checkpoint recorded as `name.checkpoint.safetensors`.
    static func checkpoint(_ name: String, build: () throws -> RouterCheckpoint) throws -> RouterCheckpoint {
        let path = directory.appendingPathComponent("\(name).checkpoint.safetensors").path
        if !FileManager.default.fileExists(atPath: path) {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try build().write(to: path)
            Issue.record("recorded \(path); review it and run the tests again")
        }
        return try RouterCheckpoint(path: path)
    }

    /// Per-layer routings of a whole probe recorded as `name.routing.safetensors`.
    static func routing(_ name: String, compute: () throws -> [Int: RoutingResult]) throws -> [Int: RoutingResult] {
        let path = directory.appendingPathComponent("\(name).routing.safetensors").path
        if !FileManager.default.fileExists(atPath: path) {
            try write(compute(), to: path)
            Issue.record("recorded \(path); review it and run the tests again")
        }
        return try read(path)
    }

    static func write(_ results: [Int: RoutingResult], to path: String) throws {
        var w = SafetensorsWriter()
        for (layer, r) in results.sorted(by: { $0.key < $1.key }) {
            let p = "layers.\(layer)."
            let n = r.tokens
            try w.add(p + "selected", shape: [n, r.topK], int32s: r.selected)
            try w.add(p + "weights", shape: [n, r.topK], floats: r.weights)
            try w.add(p + "expert_probabilities", shape: [n, r.experts], doubles: r.expertProbabilities)
            try w.add(p + "posterior", shape: [n, r.posteriorWidth], doubles: r.posterior)
            try w.add(p + "entropy_bits", shape: [n], doubles: r.entropyBits)
            if let d = r.logDensity { try w.add(p + "log_density", shape: [n], doubles: d) }
            if let t = r.topComponent { try w.add(p + "top_component", shape: [n], int32s: t) }
            if let z = r.latents { try w.add(p + "latents", shape: [z.rows, z.cols], floats: z.data) }
            if let e = r.reconstructionError { try w.add(p + "reconstruction", shape: [n], floats: e) }
        }
        w.metadata = ["layers": results.keys.sorted().map(String.init).joined(separator: ",")]
        try w.write(to: path)
    }

    static func read(_ path: String) throws -> [Int: RoutingResult] {
        let f = try SafetensorsFile(path: path)
        var out: [Int: RoutingResult] = [:]
        for layer in (f.metadata["layers"] ?? "").split(separator: ",").compactMap({ Int($0) }) {
            let p = "layers.\(layer)."
            guard let sel = f.info(p + "selected"), let post = f.info(p + "posterior"),
                  let probs = f.info(p + "expert_probabilities") else { continue }
            let latents = try f.info(p + "latents").map { Matrix(rows: $0.shape[0], cols: $0.shape[1], data: try f.floats(p + "latents")) }
            out[layer] = RoutingResult(
                tokens: sel.shape[0], topK: sel.shape[1], experts: probs.shape[1],
                selected: try f.int32s(p + "selected"), weights: try f.floats(p + "weights"),
                expertProbabilities: try f.doubles(p + "expert_probabilities"), posterior: try f.doubles(p + "posterior"),
                posteriorWidth: post.shape[1], entropyBits: try f.doubles(p + "entropy_bits"),
                logDensity: f.info(p + "log_density") == nil ? nil : try f.doubles(p + "log_density"),
                topComponent: f.info(p + "top_component") == nil ? nil : try f.int32s(p + "top_component"),
                latents: latents,
                reconstructionError: f.info(p + "reconstruction") == nil ? nil : try f.floats(p + "reconstruction"))
        }
        return out
    }
}
