import Foundation
import IdaTerminal
import IdaTestSupport
import Testing

/// Snapshot files under Tests/IdaTerminalTests/Snapshots/NAME.txt hold plain cell text: for each
/// rendered buffer a "== label" line, then `buffer.lines()` with every row framed by '|' so
/// trailing spaces and the exact width survive editors and review. No escape bytes, no styles
/// (tests assert styles directly).
///
/// A missing file is written and the test FAILS ("recorded, review and re-run"), so a snapshot
/// never passes before someone has looked at it. With IDAMOE_RECORD_SNAPSHOTS=1 a mismatching
/// file is rewritten and the test still fails.
enum Snapshot {
    /// The directory of snapshot files, found from this source file's path.
    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Snapshots")


    /// Renders `widget` into a fresh buffer of each size.
    static func frames(_ widget: some Widget, sizes: [(Int, Int)]) -> [(String, ScreenBuffer)] {
        sizes.map { size in
            var buffer = ScreenBuffer(width: size.0, height: size.1)
            widget.render(in: buffer.bounds, into: &buffer)
            return ("\(size.0)x\(size.1)", buffer)
        }
    }
}

/// Compares labelled buffers with the snapshot file `name`, recording it when missing.
func expectSnapshot(_ frames: [(String, ScreenBuffer)], named name: String,
          sourceLocation: SourceLocation = #_sourceLocation) {
    expectBufferSnapshot(frames, named: name, in: Snapshot.directory, sourceLocation: sourceLocation)
}

/// Compares one buffer with the snapshot file `name`.
func expectSnapshot(_ buffer: ScreenBuffer, named name: String, sourceLocation: SourceLocation = #_sourceLocation) {
    expectSnapshot([("buffer", buffer)], named: name, sourceLocation: sourceLocation)
}

/// Sizes every widget is drawn at: degenerate (0x0, 1x1, 3x1), narrow and normal.
let widgetSizes: [(Int, Int)] = [(0, 0), (1, 1), (3, 1), (7, 3), (24, 5)]

/// Display modes every widget is drawn in.
let snapshotModes: [(String, DisplayMode)] = [
    ("unicode", .full), ("ascii-mono", .plain),
]
