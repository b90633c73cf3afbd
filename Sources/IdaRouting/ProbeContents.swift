import Foundation
import IdaFormats
import IdaNumerics

/// What a probe file holds (docs/format.md, "Probes"), and the one writer every producer of probes
/// uses: the trainer's run probe and snapshot probes, live text in the inspector, benchmarks.
public struct ProbeContents {
    /// Token ids [N].
    public var tokens: [Int32]
    /// Domain of each token [N] (optional).
    public var domains: [Int32]?
    /// Document of each token [N] (optional).
    public var documents: [Int32]?
    /// Domain names by id (`idamoe.domain_names`; written when not empty).
    public var domainNames: [String]
    /// Router inputs [N, D] per MoE block index (`layers.{i}.hidden`, F32).
    public var hidden: [Int: Matrix]
    /// The training step the hidden states come from (`idamoe.step`), when known.
    public var step: Int?
    /// Element type of `layers.{i}.hidden` in the file: F32 (the trainer's), F16 or BF16.
    public var hiddenType: DType = .f32
    /// Router inputs produced while the file is written, for probes larger than memory: per MoE
    /// block index, the width D and a source of consecutive whole rows (row-major, nil when done).
    public var streamedHidden: [Int: StreamedRows] = [:]

    /// Rows of one layer's hidden states, produced block by block.
    public struct StreamedRows {
        public var width: Int
        public var next: () -> [Float]?

        public init(width: Int, next: @escaping () -> [Float]?) {
            self.width = width
            self.next = next
        }
    }

    /// Probe contents over byte tokens.
    public init(tokens: [Int32], domains: [Int32]? = nil, documents: [Int32]? = nil, domainNames: [String] = [],
                hidden: [Int: Matrix] = [:], step: Int? = nil) {
        self.tokens = tokens
        self.domains = domains
        self.documents = documents
        self.domainNames = domainNames
        self.hidden = hidden
        self.step = step
    }

    /// Writes the probe atomically; shapes are checked (every per-token array and hidden matrix has N rows).
    public func write(to path: String) throws {
        let n = tokens.count
        var writer = SafetensorsWriter()
        var metadata = ["idamoe.format": "1", "idamoe.vocab": "bytes"]
        if !domainNames.isEmpty {
            metadata["idamoe.domain_names"] = String(decoding: try JSONEncoder().encode(domainNames), as: UTF8.self)
        }
        if let step { metadata["idamoe.step"] = String(step) }
        writer.metadata = metadata
        try writer.add("tokens", shape: [n], int32s: tokens)
        for (name, ids) in [("domains", domains), ("documents", documents)] {
            guard let ids else { continue }
            guard ids.count == n else {
                throw RoutingError.shapeMismatch(path: path, tensor: name, expected: "[\(n)]", found: [ids.count])
            }
            try writer.add(name, shape: [n], int32s: ids)
        }
        for i in Set(hidden.keys).union(streamedHidden.keys).sorted() {
            if let rows = streamedHidden[i] {
                let dtype = [.f16, .bf16].contains(hiddenType) ? hiddenType : .f32
                try writer.add("layers.\(i).hidden", dtype: dtype, shape: [n, rows.width]) {
                    rows.next().map { SafetensorsWriter.encoded($0, as: dtype) }
                }
                continue
            }
            guard let h = hidden[i] else { continue }
            guard h.rows == n else {
                throw RoutingError.shapeMismatch(path: path, tensor: "layers.\(i).hidden", expected: "[\(n), D]",
                                                 found: [h.rows, h.cols])
            }
            let name = "layers.\(i).hidden", shape = [h.rows, h.cols]
            switch hiddenType {
            case .f16: try writer.add(name, shape: shape, float16From: h.data)
            case .bf16: try writer.add(name, shape: shape, bfloat16From: h.data)
            default: try writer.add(name, shape: shape, floats: h.data)
            }
        }
        try writer.write(to: path)
    }
}
