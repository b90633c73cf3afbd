import Foundation
import Testing

/// How far a decimal number in a command's output may stray from the golden file's: at most one unit
/// in the golden number's last printed place (a table's 0.486 may read 0.487) plus `relative` times
/// max(1, |golden|) (full-precision JSON, whose last digits follow the BLAS kernel). Integers (counts,
/// expert ids, steps) and every byte that is not a number must match exactly.
public struct NumberTolerance: Sendable {
    /// Relative slack beyond the last printed place.
    public var relative: Double

    /// Slack of one unit in the last printed place, plus `relative`.
    public init(relative: Double = 0) { self.relative = relative }

    /// Numbers printed to a fixed number of places: one unit of the last place.
    public static let lastPlace = NumberTolerance()
}

/// Compares a command's output with the golden file `directory/name.txt`, as `expectTextSnapshot` does
/// (a missing file is recorded and the test FAILS; IDAMOE_RECORD_SNAPSHOTS=1 rewrites a mismatching
/// one and the test still fails), except that the decimal numbers may differ within `tolerance`, so
/// one golden file holds on every OpenBLAS kernel: a GEMM's last bits follow the kernel
/// (docs/decisions.md). Every other byte — words, spacing, key order, line count — is compared
/// exactly; when the numbers agree too, the output is the file byte for byte.
public func expectGoldenOutput(_ actual: String, named name: String, in directory: URL, tolerance: NumberTolerance,
                               sourceLocation: SourceLocation = #_sourceLocation) {
    let url = directory.appendingPathComponent(name + ".txt")
    let record = isRecordingSnapshots
    guard let expected = storedText(actual, at: url, what: "golden output \(name)", sourceLocation: sourceLocation) else { return }
    guard expected != actual else { return }
    let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
    let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
    var problem: (line: Int, why: String)?
    for row in 0..<max(e.count, a.count) {
        guard row < e.count, row < a.count else { problem = (row, "line count \(a.count), golden \(e.count)"); break }
        if let why = goldenLineDifference(expected: e[row], actual: a[row], tolerance: tolerance) { problem = (row, why); break }
    }
    guard let problem else { return }
    if record { try? actual.write(to: url, atomically: true, encoding: .utf8) }
    Issue.record("""
        golden output \(name) differs at line \(problem.line + 1)\(record ? " (re-recorded)" : ""): \(problem.why)
          golden: \(problem.line < e.count ? String(e[problem.line]) : "<end>")
          actual: \(problem.line < a.count ? String(a[problem.line]) : "<end>")
        """, sourceLocation: sourceLocation)
}

/// A line cut into the numbers it holds and the text between them.
private enum Piece: Equatable {
    case text(Substring)
    case number(Substring)
}

/// Splits `line` at every number (an optional minus, digits, an optional fraction and exponent).
private func pieces(_ line: Substring) -> [Piece] {
    var out: [Piece] = []
    var i = line.startIndex, textStart = i
    func isDigit(_ index: Substring.Index) -> Bool { index < line.endIndex && line[index].isASCII && line[index].isNumber }
    while i < line.endIndex {
        var j = i
        if line[j] == "-", isDigit(line.index(after: j)) { j = line.index(after: j) }
        guard isDigit(j) else { i = line.index(after: i); continue }
        while isDigit(j) { j = line.index(after: j) }
        if j < line.endIndex, line[j] == ".", isDigit(line.index(after: j)) {
            j = line.index(after: j)
            while isDigit(j) { j = line.index(after: j) }
        }
        if j < line.endIndex, line[j] == "e" || line[j] == "E" {
            var k = line.index(after: j)
            if k < line.endIndex, line[k] == "-" || line[k] == "+" { k = line.index(after: k) }
            if isDigit(k) {
                while isDigit(k) { k = line.index(after: k) }
                j = k
            }
        }
        if textStart < i { out.append(.text(line[textStart..<i])) }
        out.append(.number(line[i..<j]))
        i = j
        textStart = j
    }
    if textStart < line.endIndex { out.append(.text(line[textStart...])) }
    return out
}

/// Why `actual` is not `expected` within `tolerance`, nil when it is.
private func goldenLineDifference(expected: Substring, actual: Substring, tolerance: NumberTolerance) -> String? {
    let e = pieces(expected), a = pieces(actual)
    guard e.count == a.count else { return "a different shape of text and numbers" }
    for (x, y) in zip(e, a) {
        switch (x, y) {
        case let (.number(g), .number(n)):
            if g == n { continue }
            let decimal = g.contains(".") || g.contains("e") || g.contains("E")
            guard decimal, let golden = Double(g), let value = Double(n) else { return "\(n) for \(g)" }
            var unit = 0.0
            if let dot = g.firstIndex(of: "."), !g.contains("e"), !g.contains("E") {
                unit = pow(10, -Double(g.distance(from: dot, to: g.endIndex) - 1))
            }
            if abs(value - golden) > unit * (1 + 1e-9) + tolerance.relative * max(1, abs(golden)) { return "\(n) for \(g)" }
        case (.text(let g), .text(let n)) where g == n:
            continue
        default:
            return "other text"
        }
    }
    return nil
}
