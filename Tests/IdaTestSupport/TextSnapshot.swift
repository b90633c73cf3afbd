import Foundation
import IdaTerminal
import Testing

/// Compares `actual` with the snapshot file `directory/name.txt`. A missing file is written and the
/// test FAILS ("recorded, review and re-run"), so a snapshot never passes before someone has looked at
/// it; with IDAMOE_RECORD_SNAPSHOTS=1 a mismatching file is rewritten and the test still fails.
public func expectTextSnapshot(_ actual: String, named name: String, in directory: URL,
                               sourceLocation: SourceLocation = #_sourceLocation) {
    let url = directory.appendingPathComponent(name + ".txt")
    let record = isRecordingSnapshots
    guard let expected = storedText(actual, at: url, what: "snapshot \(name)", sourceLocation: sourceLocation) else { return }
    guard expected != actual else { return }
    let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
    let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
    let row = zip(e, a).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(e.count, a.count)
    let expectedLine = row < e.count ? String(e[row]) : "<end>"
    let actualLine = row < a.count ? String(a[row]) : "<end>"
    if record { try? actual.write(to: url, atomically: true, encoding: .utf8) }
    Issue.record("""
        snapshot \(name) differs at line \(row + 1)\(record ? " (re-recorded)" : ""):
          expected: \(expectedLine)
          actual:   \(actualLine)
        full actual:
        \(actual)
        """, sourceLocation: sourceLocation)
}

/// Whether IDAMOE_RECORD_SNAPSHOTS=1 asks mismatching snapshot and golden files to be rewritten.
var isRecordingSnapshots: Bool { ProcessInfo.processInfo.environment["IDAMOE_RECORD_SNAPSHOTS"] == "1" }

/// The text stored at `url`; when there is none, `actual` is written there and the test fails
/// ("`what` recorded at ...; review it and re-run"), so nothing passes before someone has looked at it.
func storedText(_ actual: String, at url: URL, what: String, sourceLocation: SourceLocation) -> String? {
    if let expected = try? String(contentsOf: url, encoding: .utf8) { return expected }
    try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try? actual.write(to: url, atomically: true, encoding: .utf8)
    Issue.record("\(what) recorded at \(url.path); review it and re-run", sourceLocation: sourceLocation)
    return nil
}

/// The text stored for labelled buffers: a "== label (WxH)" line per buffer, then every row framed
/// by '|' so trailing spaces and the exact width survive editors and review (no escape bytes, no
/// styles: tests assert styles directly).
public func snapshotText(_ frames: [(String, ScreenBuffer)]) -> String {
    var out = ""
    for (label, buffer) in frames {
        out += "== \(label) (\(buffer.width)x\(buffer.height))\n"
        for line in buffer.lines() { out += "|" + line + "|\n" }
    }
    return out
}

/// Compares labelled buffers with the snapshot file `directory/name.txt` (see `expectTextSnapshot`).
public func expectBufferSnapshot(_ frames: [(String, ScreenBuffer)], named name: String, in directory: URL,
                                 sourceLocation: SourceLocation = #_sourceLocation) {
    expectTextSnapshot(snapshotText(frames), named: name, in: directory, sourceLocation: sourceLocation)
}
