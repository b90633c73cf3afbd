import Foundation
import Synchronization
import IdaRouting

/// `idamoe inspect --text FILE`: one text, run through the model of whichever snapshot is
/// shown or compared, in place of the run's probe. Each checkpoint's probe of the text is made once
/// (the last few are kept: A's steps as the user walks them, and B).
public struct TextProbes: Sendable {
    /// The text's bytes, one token each.
    public let bytes: [UInt8]
    /// Makes the probe of the text for a checkpoint file (its model runs the bytes, or a routers-only
    /// snapshot's own probe when it holds exactly these tokens); throws with one line otherwise.
    let make: @Sendable (_ checkpoint: String) throws -> Probe
    private let cache = ProbeCache()

    /// Text probes of `bytes`, made by `make`.
    public init(bytes: [UInt8], make: @escaping @Sendable (_ checkpoint: String) throws -> Probe) {
        self.bytes = bytes
        self.make = make
    }

    /// The probe of the text for `checkpoint`.
    public func probe(for checkpoint: String) throws -> Probe {
        if let cached = cache.probe(for: checkpoint) { return cached }
        let probe = try make(checkpoint)
        cache.keep(probe, for: checkpoint)
        return probe
    }

    /// What the screens show of the text before any snapshot has run it.
    public var text: ProbeText { ProbeText(tokens: bytes.map { Int32($0) }) }
}

/// The last few text probes, by checkpoint path.
final class ProbeCache: Sendable {
    private let entries = Mutex<[(path: String, probe: Probe)]>([])
    static let kept = 4

    func probe(for path: String) -> Probe? {
        entries.withLock { list in list.first { $0.path == path }?.probe }
    }

    func keep(_ probe: Probe, for path: String) {
        entries.withLock { list in
            list.removeAll { $0.path == path }
            list.append((path, probe))
            if list.count > Self.kept { list.removeFirst(list.count - Self.kept) }
        }
    }
}
