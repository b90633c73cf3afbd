import Foundation
import IdaFormats
import IdaNumerics

/// How token ids map to text (`idamoe.vocab`).
public enum Vocabulary: Sendable, Equatable {
    /// Token id = byte value.
    case bytes
    /// Token id indexes this list of strings.
    case strings([String])

    /// The text of one token; bytes outside printable ASCII are shown escaped.
    public func text(of token: Int32) -> String {
        switch self {
        case .bytes:
            let b = UInt8(truncatingIfNeeded: token)
            if b >= 0x20 && b < 0x7F { return String(UnicodeScalar(b)) }
            if b == 0x0A { return "\\n" }
            if b == 0x09 { return "\\t" }
            return String(format: "\\x%02x", b)
        case let .strings(list):
            return token >= 0 && Int(token) < list.count ? list[Int(token)] : "<\(token)>"
        }
    }
}

/// A probe file: tokens to stream and the hidden states of each MoE layer, read block by block.
public struct Probe: Sendable {
    /// The opened file (memory-mapped).
    public let file: SafetensorsFile
    /// Token ids [N], read from the mapping when asked for (memory does not grow with N).
    public let tokens: MappedIntegers
    /// Domain of each token [N], when present.
    public let domains: MappedIntegers?
    /// Document of each token [N], when present.
    public let documents: MappedIntegers?
    /// Token text mapping.
    public let vocabulary: Vocabulary
    /// Names of the domains, indexed by domain id.
    public let domainNames: [String]
    /// Hidden width D per MoE block index that has `layers.{i}.hidden`.
    public let hiddenDims: [Int: Int]
    /// The recorded decisions per MoE block index that has `layers.{i}.experts` (a recorded routing).
    public let recordedLayers: [Int: RecordedColumns]

    /// What a block's recorded decisions hold: k experts per token, and whether gate weights and the
    /// router's logits (E wide) were recorded too.
    public struct RecordedColumns: Sendable, Equatable {
        /// Experts per token k (`layers.{i}.experts` [N, k]).
        public var topK: Int
        /// Whether `layers.{i}.weights` [N, k] was recorded.
        public var weights: Bool
        /// The width E of `layers.{i}.logits` [N, E], when recorded.
        public var logitsWidth: Int?
    }

    /// Opens `path` and checks every tensor's shape and dtype against the contract.
    public init(path: String) throws {
        let file = try readingFormat { try SafetensorsFile(path: path) }
        guard let tokenInfo = file.info("tokens") else { throw RoutingError.missingTensor(path: path, tensor: "tokens") }
        guard tokenInfo.shape.count == 1 else {
            throw RoutingError.shapeMismatch(path: path, tensor: "tokens", expected: "[N]", found: tokenInfo.shape)
        }
        let n = tokenInfo.shape[0]
        func optionalIDs(_ name: String) throws -> MappedIntegers? {
            guard let info = file.info(name) else { return nil }
            guard info.shape == [n] else {
                throw RoutingError.shapeMismatch(path: path, tensor: name, expected: "[\(n)]", found: info.shape)
            }
            return try readingFormat { try MappedIntegers(file: file, name: name) }
        }
        let tokens = try readingFormat { try MappedIntegers(file: file, name: "tokens") }
        let domains = try optionalIDs("domains")
        let documents = try optionalIDs("documents")
        var dims: [Int: Int] = [:]
        for t in file.tensors where t.name.hasPrefix("layers.") && t.name.hasSuffix(".hidden") {
            let middle = t.name.dropFirst("layers.".count).dropLast(".hidden".count)
            guard let i = Int(middle) else { continue }
            guard t.shape.count == 2, t.shape[0] == n, SizeLimits.within(t.shape[1], SizeLimits.width) else {
                throw RoutingError.shapeMismatch(path: path, tensor: t.name, expected: "[\(n), D] with D 1...\(SizeLimits.width)",
                                                 found: t.shape)
            }
            guard i >= 0, i <= SizeLimits.blockIndex else {
                throw RoutingError.badMetadata(path: path, key: t.name, problem: "block index \(i) is above \(SizeLimits.blockIndex)")
            }
            guard [.f32, .f16, .bf16, .f64].contains(t.dtype) else {
                throw RoutingError.badMetadata(path: path, key: t.name, problem: "dtype \(t.dtype.rawValue) is not a float type")
            }
            dims[i] = t.shape[1]
        }
        var recorded: [Int: RecordedColumns] = [:]
        for t in file.tensors where t.name.hasPrefix("layers.") && t.name.hasSuffix(".experts") {
            let middle = t.name.dropFirst("layers.".count).dropLast(".experts".count)
            guard let i = Int(middle), i >= 0, i <= SizeLimits.blockIndex else { continue }
            guard t.shape.count == 2, t.shape[0] == n, SizeLimits.within(t.shape[1], SizeLimits.topK),
                  DType.integral.contains(t.dtype) else {
                throw RoutingError.shapeMismatch(path: path, tensor: t.name, expected: "[\(n), k] integers with k 1...\(SizeLimits.topK)",
                                                 found: t.shape)
            }
            let k = t.shape[1]
            var columns = RecordedColumns(topK: k, weights: false, logitsWidth: nil)
            if let w = file.info("layers.\(i).weights") {
                guard w.shape == [n, k], [.f32, .f16, .bf16, .f64].contains(w.dtype) else {
                    throw RoutingError.shapeMismatch(path: path, tensor: w.name, expected: "[\(n), \(k)] floats", found: w.shape)
                }
                columns.weights = true
            }
            if let l = file.info("layers.\(i).logits") {
                guard l.shape.count == 2, l.shape[0] == n, SizeLimits.within(l.shape[1], SizeLimits.experts),
                      [.f32, .f16, .bf16, .f64].contains(l.dtype) else {
                    throw RoutingError.shapeMismatch(path: path, tensor: l.name, expected: "[\(n), E] floats with E 1...\(SizeLimits.experts)",
                                                     found: l.shape)
                }
                columns.logitsWidth = l.shape[1]
            }
            recorded[i] = columns
        }
        var vocabulary = Vocabulary.bytes
        if let v = file.metadata["idamoe.vocab"], v != "bytes" {
            guard let list = try? JSONDecoder().decode([String].self, from: Data(v.utf8)) else {
                throw RoutingError.badMetadata(path: path, key: "idamoe.vocab", problem: "neither \"bytes\" nor a JSON array of strings")
            }
            vocabulary = .strings(list)
        }
        var names: [String] = []
        if let d = file.metadata["idamoe.domain_names"] {
            guard let list = try? JSONDecoder().decode([String].self, from: Data(d.utf8)) else {
                throw RoutingError.badMetadata(path: path, key: "idamoe.domain_names", problem: "not a JSON array of strings")
            }
            names = list
        }
        if let domains { try Self.checkDomainIDs(domains, names: names, path: path) }
        self.file = file
        self.tokens = tokens
        self.domains = domains
        self.documents = documents
        self.vocabulary = vocabulary
        self.domainNames = names
        self.hiddenDims = dims
        self.recordedLayers = recorded
    }

    /// Domain ids are -1 (no domain) or name a domain: below `names.count` when the probe names its
    /// domains, below `SizeLimits.domains` when it does not, so what is sized by domains stays small.
    /// The column's pages are released after the scan.
    static func checkDomainIDs(_ domains: MappedIntegers, names: [String], path: String) throws {
        let limit = names.isEmpty ? SizeLimits.domains : names.count
        defer { domains.file.releaseRows(domains.name, rows: 0..<domains.count) }
        for (n, d) in domains.enumerated() where d < -1 || Int(d) >= limit {
            let rule = names.isEmpty ? "ids 0...\(limit - 1) (or -1: none) without idamoe.domain_names"
                : "an id of idamoe.domain_names (0...\(limit - 1)) or -1 (none)"
            throw RoutingError.badMetadata(path: path, key: "domains", problem: "token \(n) has domain id \(d); each must be \(rule)")
        }
    }

    /// Tokens N.
    public var count: Int { tokens.count }

    /// The token ids as an array (the mapped pages are released after the copy).
    public func tokenIDs() -> [Int32] { Self.copied(tokens) }

    /// The domain ids as an array, when present (the mapped pages are released after the copy).
    public func domainIDs() -> [Int32]? { domains.map(Self.copied) }

    package static func copied(_ column: MappedIntegers) -> [Int32] {
        let values = Array(column)
        column.file.releaseRows(column.name, rows: 0..<column.count)
        return values
    }
    /// MoE block indices with hidden states, ascending.
    public var layers: [Int] { hiddenDims.keys.sorted() }

    /// Hidden states of `rows` at MoE block `layer` as [rows, D]; a non-finite value is an error naming the token.
    public func hidden(layer: Int, rows: Range<Int>) throws -> Matrix {
        guard let d = hiddenDims[layer] else {
            throw RoutingError.missingLayer(path: file.path, layer: layer, available: layers)
        }
        let name = "layers.\(layer).hidden"
        let values = try readingFormat { try file.floatRows(name, rows: rows) }
        // NaN and infinity propagate through a sum, so one vectorised pass clears the common case;
        // only a non-finite sum (a bad value, or an overflow of huge finite ones) needs the exact scan.
        if !Self.sumIsFinite(values) {
            try values.withUnsafeBufferPointer { try requireFinite($0, layer: layer, rows: rows) }
        }
        return Matrix(rows: rows.count, cols: d, data: values)
    }

    /// Hidden states of `rows` at MoE block `layer` [rows, D] read in place from the mapping when the
    /// file stores them as F32 this host reads as they are; nil (and `body` not called) otherwise, when
    /// `hidden` converts them. `body` is responsible for finiteness (`requireFinite`).
    public func withMappedHidden<R>(layer: Int, rows: Range<Int>,
                                    _ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R? {
        guard hiddenDims[layer] != nil else {
            throw RoutingError.missingLayer(path: file.path, layer: layer, available: layers)
        }
        return try readingFormat { try file.withMappedFloatRows("layers.\(layer).hidden", rows: rows, body) }
    }

    /// Throws `nonFinite` naming the first non-finite value of `values`, rows `rows` of block `layer`'s
    /// hidden states; nothing when all are finite.
    public func requireFinite(_ values: UnsafeBufferPointer<Float>, layer: Int, rows: Range<Int>) throws {
        guard let bad = values.firstIndex(where: { !$0.isFinite }) else { return }
        let d = hiddenDims[layer] ?? 0
        throw RoutingError.nonFinite(path: file.path, tensor: "layers.\(layer).hidden", index: rows.lowerBound * d + bad)
    }

    /// The recorded decisions of `rows` at MoE block `layer`: experts [rows, k] (each in 0..<`experts`),
    /// gate weights [rows, k] and logits [rows, E] when recorded; a value outside its range is an
    /// error naming the token. The mapped pages are released once read.
    public func recorded(layer: Int, rows: Range<Int>, experts: Int) throws -> (selected: [Int32], weights: [Float]?, logits: [Float]?) {
        guard let columns = recordedLayers[layer] else {
            throw RoutingError.missingLayer(path: file.path, layer: layer, available: recordedLayers.keys.sorted())
        }
        let name = "layers.\(layer).experts"
        let ids = try readingFormat { try MappedIntegers(file: file, name: name) }
        let k = columns.topK
        var selected = [Int32](repeating: 0, count: rows.count * k)
        for (r, row) in rows.enumerated() {
            for j in 0..<k {
                let e = ids[row * k + j]
                guard e >= 0, Int(e) < experts else {
                    throw RoutingError.badMetadata(path: file.path, key: name,
                                                   problem: "token \(row) went to expert \(e); the checkpoint has \(experts) experts")
                }
                selected[r * k + j] = e
            }
        }
        file.releaseRows(name, rows: rows)
        func floats(_ tensor: String) throws -> [Float] {
            let values = try readingFormat { try file.floatRows(tensor, rows: rows) }
            file.releaseRows(tensor, rows: rows)
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw RoutingError.nonFinite(path: file.path, tensor: tensor, index: rows.lowerBound * (values.count / max(rows.count, 1)) + bad)
            }
            return values
        }
        let weights = columns.weights ? try floats("layers.\(layer).weights") : nil
        var logits: [Float]?
        if let width = columns.logitsWidth {
            guard width == experts else {
                throw RoutingError.shapeMismatch(path: file.path, tensor: "layers.\(layer).logits",
                                                 expected: "[\(count), \(experts)] (the checkpoint's experts)", found: [count, width])
            }
            logits = try floats("layers.\(layer).logits")
        }
        return (selected, weights, logits)
    }

    /// Lets the mapped pages of `rows` at MoE block `layer` leave resident memory (streaming callers,
    /// once those rows are converted); what `hidden` returns later does not change.
    public func release(layer: Int, rows: Range<Int>) {
        file.releaseRows("layers.\(layer).hidden", rows: rows)
    }

    /// Whether the sum of all values is finite (eight independent accumulators, so it vectorises).
    static func sumIsFinite(_ values: [Float]) -> Bool {
        values.withUnsafeBufferPointer { p in
            var acc = SIMD8<Float>(repeating: 0)
            var i = 0
            while i + 8 <= p.count {
                acc += SIMD8<Float>(p[i], p[i + 1], p[i + 2], p[i + 3], p[i + 4], p[i + 5], p[i + 6], p[i + 7])
                i += 8
            }
            var total = acc.sum()
            while i < p.count {
                total += p[i]
                i += 1
            }
            return total.isFinite
        }
    }
}
