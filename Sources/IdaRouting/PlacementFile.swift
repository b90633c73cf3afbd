import IdaFormats
import IdaNumerics

/// A placement file (`--placement FILE`, docs/format.md "The expert-parallel view"): JSON with
/// `physical_to_logical`, the logical expert of each physical slot, as one array [S] for every layer,
/// an array of per-layer arrays indexed by block, or an object {"BLOCK": [S]}; and optionally `ranks`
/// G (else `--ep G` gives it). SGLang's `physical_to_logical_map` and vLLM's EPLB map are such
/// per-layer arrays; a bare array is read as `physical_to_logical`.
public struct PlacementFile: Sendable {
    public let path: String
    /// Ranks named in the file, if any.
    public let ranks: Int?
    private let every: [Int]?
    private let perLayer: [Int: [Int]]

    public init(path: String) throws {
        let bytes: [UInt8]
        do { bytes = try SmallFile.read(path) } catch { throw RoutingError.invalidOption("--placement \(path): \(error.reason)") }
        let root: JSONValue
        do { root = try JSONValue.parse(bytes: bytes) } catch {
            throw RoutingError.invalidOption("--placement \(path): not JSON (\(error))")
        }
        func fail(_ what: String) -> RoutingError { .invalidOption("--placement \(path): \(what)") }
        let map: JSONValue
        if root.array != nil {
            map = root
            ranks = nil
        } else if let object = root.object {
            guard let m = object["physical_to_logical"] else { throw fail("no physical_to_logical (the logical expert of each slot)") }
            map = m
            if let g = object["ranks"] {
                guard let n = g.int, n >= 1 else { throw fail("ranks must be a positive integer") }
                ranks = n
            } else {
                ranks = nil
            }
        } else {
            throw fail("expected an object with physical_to_logical, or an array")
        }
        func slots(_ value: JSONValue, _ where_: String) throws -> [Int] {
            guard let items = value.array, !items.isEmpty else { throw fail("\(where_): expected a non-empty array of expert indices") }
            return try items.enumerated().map { s, v in
                guard let e = v.int else { throw fail("\(where_)[\(s)]: expected an integer expert index") }
                return e
            }
        }
        if let items = map.array, let first = items.first, first.array != nil {
            var table: [Int: [Int]] = [:]
            for (block, row) in items.enumerated() { table[block] = try slots(row, "physical_to_logical[\(block)]") }
            every = nil
            perLayer = table
        } else if let object = map.object {
            var table: [Int: [Int]] = [:]
            for (key, row) in object {
                guard let block = Int(key), block >= 0 else { throw fail("physical_to_logical key \"\(key)\" is not a block index") }
                table[block] = try slots(row, "physical_to_logical[\"\(key)\"]")
            }
            every = nil
            perLayer = table
        } else {
            every = try slots(map, "physical_to_logical")
            perLayer = [:]
        }
        self.path = path
    }

    /// The placement of block `layer` of `experts` experts over `ranks` ranks (the file's own, else
    /// the given one).
    public func placement(layer: Int, experts: Int, ranks given: Int?) throws -> ExpertPlacement {
        guard let g = ranks ?? given else {
            throw RoutingError.invalidOption("--placement \(path): the file names no ranks; give --ep G")
        }
        guard let slots = every ?? perLayer[layer] else {
            throw RoutingError.invalidOption("--placement \(path): no slots for layer \(layer) (the file has layers "
                                             + "\(perLayer.keys.sorted().map(String.init).joined(separator: ", ")))")
        }
        do { return try ExpertPlacement(ranks: g, slots: slots, experts: experts) } catch {
            throw RoutingError.invalidOption("--placement \(path), layer \(layer): \(error)")
        }
    }
}
