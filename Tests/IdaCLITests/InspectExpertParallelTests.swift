import Foundation
import Testing
import IdaFormats
import IdaTestSupport

/// `idamoe inspect --placement FILE --redundant R` on a run written by RunWriter (fixtures/torch-run,
/// E = 4): the placement's ranks and the what-if in the layer table, one-line errors for bad input.
@Suite("inspect: placement files and the replication what-if")
struct InspectExpertParallelTests {
    func write(_ text: String, _ name: String) throws -> String {
        let path = NSTemporaryDirectory() + "inspect-ep-\(getpid())-\(name).json"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("a placement file's map gives the rank loads; --redundant adds the MaxVio after replication")
    func placement() throws {
        // r0 holds e3 and e0, r1 holds e1 and e2.
        let path = try write(#"{"ranks":2,"physical_to_logical":[3,0,1,2]}"#, "swap")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try runIdamoe(["inspect", fixturePath("torch-run"), "--headless", "--size", "160x34", "--placement", path,
                                 "--redundant", "2"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("│layer  train CV MaxVio rank MV  hot after dead"), "\(run.stdout)")
        for (layer, load) in try lastStepLoads() {
            let ranks = [load[3] + load[0], load[1] + load[2]]
            let vio = 2 * (ranks.max() ?? 0) / (ranks[0] + ranks[1]) - 1
            let line = try #require(run.stdout.split(separator: "\n").first { $0.hasPrefix("│L\(layer) ") })
            let cells = line.dropFirst().prefix { $0 != "│" }.split(separator: " ")
            #expect(cells[3] == Substring(String(format: "%.2f", vio)) && cells[4] == (ranks[1] > ranks[0] ? "r1" : "r0"), "\(cells)")
        }
        #expect(run.stdout.contains("stalls"), "\(run.stdout)")
    }

    @Test("bad placement files and combinations are one-line errors")
    func errors() throws {
        let notJSON = try write("[0, 1", "broken")
        let noRanks = try write(#"{"physical_to_logical":[0,1,2,3]}"#, "noranks")
        let wrongExpert = try write(#"{"ranks":2,"physical_to_logical":[0,1,2,9]}"#, "wrong")
        defer { for p in [notJSON, noRanks, wrongExpert] { try? FileManager.default.removeItem(atPath: p) } }
        let cases: [([String], String)] = [
            (["--placement", notJSON], "not JSON"),
            (["--placement", NSTemporaryDirectory() + "no-such-placement.json"], "cannot be read"),
            (["--placement", noRanks], "the file names no ranks; give --ep G"),
            (["--redundant", "2"], "--redundant needs --ep G or --placement FILE"),
            (["--ep", "2", "--redundant=-1"], "--redundant must be 0 to"),
            (["--placement", wrongExpert], "layer 0: slot 3 holds expert 9"),
        ]
        for (extra, message) in cases {
            let run = try runIdamoe(["inspect", fixturePath("torch-run"), "--headless"] + extra)
            let lines = run.stderr.split(separator: "\n")
            #expect(run.status != 0 && run.stderr.contains(message) && lines.count == 1, "\(extra): \(run.stderr)")
        }
    }
}
