import Testing

@Suite("idamoe bench render, end to end")
struct BenchRenderTests {
    @Test("a small run: one row per screen and size, per key and size, the idle line, exit 0")
    func smallRun() throws {
        let run = try runIdamoe(["bench", "render", "--tokens", "2000", "--steps", "300", "--analyses", "1",
                                 "--idle-seconds", "1", "--frames", "5"], timeout: 120)
        #expect(run.status == 0, "\(run.stderr)")
        let rows = run.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        for size in ["80x24", "200x60"] {
            for screen in ["overview", "layer", "latent", "tokens", "timeline", "help"] {
                let matching = rows.filter { $0.count == 7 && $0[0] == screen && $0[1] == size }
                #expect(matching.count == 1, "no single row for \(screen) at \(size) in:\n\(run.stdout)")
                // render median, p95, diff median, p95: finite, non-negative milliseconds.
                for value in matching.first?[2...5] ?? [] { #expect((Double(value) ?? -1) >= 0, "\(value)") }
            }
            #expect(rows.filter { $0.first == "tokens:" && $0.contains(size) }.count == 3)
            #expect(rows.contains { $0.starts(with: ["next", "screen", "(Tab)", size]) })
        }
        let idle = run.stdout.split(separator: "\n").first { $0.hasPrefix("idle ") }
        #expect(idle?.contains("% of one core") == true, "\(run.stdout)")
        #expect(run.stdout.contains("analyse snapshot:"))
    }

    @Test("bad --sizes: one line on stderr, non-zero exit")
    func badSizes() throws {
        let run = try runIdamoe(["bench", "render", "--sizes", "80by24", "--idle-seconds", "0"], timeout: 60)
        #expect(run.status != 0)
        #expect(run.stderr.contains("--sizes"))
    }
}
