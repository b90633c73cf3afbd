import Foundation
import IdaFormats
import IdaNumerics
import IdaRouting
import IdaTestSupport

/// Writes `checkpoint`'s tensors under its metadata changed by `metadata` (nil removes a key) to a
/// fresh file and returns its path (to check how readers take edited metadata).
func writeCheckpoint(_ checkpoint: RouterCheckpoint, metadata: [String: String?] = [:]) throws -> String {
    var writer = SafetensorsWriter()
    var meta = checkpoint.info.metadata
    for (k, v) in metadata { meta[k] = v }
    writer.metadata = meta
    for t in checkpoint.tensors() { try writer.add(t.name, shape: t.shape, floats: t.values) }
    let path = temporaryDirectory() + "/checkpoint.safetensors"
    try writer.write(to: path)
    return path
}

/// A small IDA checkpoint: MoE layers 1 and 3, D = 6, encoder 6 -> 5 -> 3, E = 3, M = 2.
func makeIDACheckpoint(seed: UInt64 = 1) throws -> RouterCheckpoint {
    var rng = SeededGenerator(seed: seed)
    let config = RouterConfig(experts: 3, componentsPerExpert: 2, latentDim: 3, topK: 2,
                              activation: .gelu, expertScore: .max, inputNorm: .rms,
                              logVarMin: -6, logVarMax: 6)
    var routers: [Int: LayerRouter] = [:]
    for i in [1, 3] {
        var r = try IDARouter(config: config, hiddenDim: 6, hidden: [5], rng: &rng)
        for k in 0..<6 { r.gmm.logits[k] = Float(k) * 0.2 - 0.5 }
        routers[i] = .ida(r)
    }
    return RouterCheckpoint(info: CheckpointInfo(router: .ida, moeLayers: [1, 3], config: config, step: 42),
                            routers: routers)
}

/// A probe with `count` tokens and hidden states of width `width` for the given layers; `misaligned`
/// puts one byte before the hidden states, so their F32 data does not sit on a 4-byte boundary;
/// `edit` changes the hidden states of a layer before they are written.
func writeProbe(to path: String, count: Int, width: Int = 6, layers: [Int] = [1, 3], seed: UInt64 = 5,
                dtype: DType = .f32, misaligned: Bool = false,
                edit: (_ layer: Int, _ values: inout [Float]) -> Void = { _, _ in }) throws {
    var writer = SafetensorsWriter()
    writer.metadata = ["idamoe.vocab": "bytes", "idamoe.domain_names": "[\"a\", \"b\"]"]
    try writer.add("tokens", shape: [count], int32s: (0..<count).map { Int32(65 + $0 % 26) })
    try writer.add("domains", shape: [count], int32s: (0..<count).map { Int32($0 % 2) })
    if misaligned { try writer.add("pad", dtype: .u8, shape: [1], bytes: [0]) }
    for (offset, i) in layers.enumerated() {
        var h = randomMatrix(rows: count, cols: width, scale: 1, seed: seed + UInt64(offset))
        edit(i, &h.data)
        switch dtype {
        case .f16: try writer.add("layers.\(i).hidden", shape: [count, width], float16From: h.data)
        case .bf16: try writer.add("layers.\(i).hidden", shape: [count, width], bfloat16From: h.data)
        case .f64: try writer.add("layers.\(i).hidden", shape: [count, width], doubles: h.data.map(Double.init))
        default: try writer.add("layers.\(i).hidden", shape: [count, width], floats: h.data)
        }
    }
    try writer.write(to: path)
}
