import Foundation
import IdaNumerics
import IdaRouting
import IdaTestSupport
import Testing

/// The exact output of `route` (table, --json, --jsonl) and `diff` (text, --json) on the committed
/// fixtures (fixtures/tiny-ida.safetensors and tiny-probe.safetensors: 600 tokens, 2 layers, 4 domains),
/// held to golden files in Golden/. Re-record after a deliberate change with
/// `IDAMOE_RECORD_SNAPSHOTS=1 swift test --skip-build --filter GoldenOutputTests` and read the diff.
///
/// Kernel independence: routing runs GEMMs through OpenBLAS, whose last bits follow the kernel. On this
/// fixture the tables print the same digits under OPENBLAS_CORETYPE=Prescott, Haswell and SkylakeX, and
/// the JSON's full-precision figures differ by under 2e-6 of max(1, |x|) (expert choices are the same). So
/// every byte but the numbers is compared exactly, and the numbers within one unit of their last printed
/// place (tables) or that plus 1e-4 relative (JSON) (`expectGoldenOutput`).
@Suite("Golden output of route and diff")
struct GoldenOutputTests {
    static let golden = repositoryRoot.appendingPathComponent("Tests/IdaCLITests/Golden")
    static let checkpoint = fixturePath("tiny-ida.safetensors"), probe = fixturePath("tiny-probe.safetensors")

    /// Runs idamoe on one worker; paths under the repository are printed from its root, `dir` as TMP.
    func output(_ arguments: [String], dir: String? = nil) throws -> String {
        let run = try runIdamoe(arguments + ["--threads", "1"])
        #expect(run.status == 0, "\(run.stderr)")
        var text = run.stdout.replacingOccurrences(of: repositoryRoot.path + "/", with: "")
        if let dir { text = text.replacingOccurrences(of: dir, with: "TMP") }
        return text
    }

    @Test("route: the table, --json and --jsonl")
    func route() throws {
        let base = ["route", "--checkpoint", Self.checkpoint, "--probe", Self.probe]
        expectGoldenOutput(try output(base), named: "route-table", in: Self.golden, tolerance: .lastPlace)
        expectGoldenOutput(try output(base + ["--json"]), named: "route-json", in: Self.golden, tolerance: NumberTolerance(relative: 1e-4))
        expectGoldenOutput(try output(base + ["--jsonl"]), named: "route-jsonl", in: Self.golden, tolerance: NumberTolerance(relative: 1e-4))
    }

    /// Side B: routers of the fixture's shape drawn from a fixed seed (no BLAS call), so the two sides
    /// disagree, the matching has work to do, and B's priors, loads and dead components differ from A's.
    func otherCheckpoint(in dir: String) throws -> String {
        let a = try RouterCheckpoint(path: Self.checkpoint)
        var rng = SeededGenerator(seed: 11)
        var routers: [Int: LayerRouter] = [:]
        for layer in a.info.moeLayers {
            routers[layer] = .ida(try IDARouter(config: a.info.config, hiddenDim: 64, hidden: [32], rng: &rng))
        }
        let path = dir + "/b.safetensors"
        try RouterCheckpoint(info: CheckpointInfo(router: .ida, moeLayers: a.info.moeLayers, config: a.info.config, step: 5),
                             routers: routers).write(to: path)
        return path
    }

    @Test("diff: the text and --json of the fixture against other routers on its probe")
    func diff() throws {
        let dir = temporaryDirectory()
        let b = try otherCheckpoint(in: dir)
        let base = ["diff", Self.checkpoint, b, "--probe", Self.probe]
        expectGoldenOutput(try output(base, dir: dir), named: "diff-text", in: Self.golden, tolerance: .lastPlace)
        expectGoldenOutput(try output(base + ["--json"], dir: dir), named: "diff-json", in: Self.golden,
                           tolerance: NumberTolerance(relative: 1e-4))
    }
}
