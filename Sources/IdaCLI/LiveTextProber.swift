import Foundation
import Synchronization
import IdaInspector
import IdaRouting
import IdaTraining

/// The inspector's live text (`e` on the tokens screen): the snapshot's model runs the typed bytes,
/// its router inputs go to a temporary probe file, which is opened (memory-mapped) and unlinked.
func makeTextProber() -> TextProber {
    let cache = SnapshotModelCache()
    return { bytes, checkpoint in
        let model = try cache.model(at: checkpoint)
        let path = NSTemporaryDirectory() + "idamoe-text-\(getpid())-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try model.writeProbe(tokens: bytes.map { Int32($0) }, to: path)
        return try Probe(path: path)
    }
}

/// The last snapshot model loaded, so typing text again against the same step does not reload it.
final class SnapshotModelCache: Sendable {
    private let last = Mutex<(path: String, model: SnapshotModel)?>(nil)

    /// The model of `path`, loaded unless it is the one loaded last.
    func model(at path: String) throws -> SnapshotModel {
        try last.withLock { entry in
            if let entry, entry.path == path { return entry.model }
            let model = try SnapshotModel(path: path)
            entry = (path, model)
            return model
        }
    }
}
