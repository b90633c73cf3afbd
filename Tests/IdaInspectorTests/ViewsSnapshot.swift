import Foundation
import IdaTerminal
import IdaTestSupport
import Testing

/// Snapshot files under Tests/IdaInspectorTests/Snapshots/NAME.txt hold plain cell text: for each
/// rendered buffer a "== label (WxH)" line, then every row framed by '|' so trailing spaces and the
/// exact width survive editors and review. No escape bytes, no styles (tests assert styles directly).
///
/// A missing file is written and the test FAILS ("recorded, review and re-run"), so a snapshot never
/// passes before someone has looked at it. With IDAMOE_RECORD_SNAPSHOTS=1 a mismatching file is
/// rewritten and the test still fails.
enum ViewSnapshot {
    /// The directory of snapshot files, found from this source file's path.
    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().appendingPathComponent("Snapshots")

}

/// Compares labelled buffers with the snapshot file `name`, recording it when missing.
func expectViewSnapshot(_ frames: [(String, ScreenBuffer)], named name: String,
          sourceLocation: SourceLocation = #_sourceLocation) {
    expectBufferSnapshot(frames, named: name, in: ViewSnapshot.directory, sourceLocation: sourceLocation)
}
