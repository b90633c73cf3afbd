import Foundation
import Testing
import IdaTestSupport

@Suite("Command-line errors")
struct CommandLineErrorTests {
    @Test("unknown flags, missing arguments and bad values: one line on stderr, exit 64; help still in full")
    func oneLine() throws {
        let fixture = repositoryFile("fixtures/tiny-ida.safetensors")
        let cases: [([String], String)] = [
            (["inspect", fixture, "--headless", "--size", "10x"], "--size must look like 120x40"),
            (["inspect", fixture, "--headless", "--keys", "zz9"], "unknown key name 'zz9'"),
            (["inspect", fixture, "--format", "svg"], "--format applies to a headless frame; add --headless"),
            (["inspect", fixture, "--headless", "--format", "png"], "The value 'png' is invalid for '--format <text|svg>'"),
            (["info"], "give a checkpoint or probe file, or --system"),
            (["info", "x", "--bogus"], "Unknown option '--bogus'"),
            (["nosuchcommand"], "nosuchcommand"),
            (["bench", "train", "--steps", "0", "--phases"], "--steps must be at least 1"),
        ]
        for (arguments, needle) in cases {
            let run = try runIdamoe(arguments)
            #expect(run.status == 64, "\(arguments): \(run.status)")
            let lines = run.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("Error: ") && run.stderr.contains(needle),
                    "\(arguments):\n\(run.stderr)")
            #expect(run.stdout.isEmpty)
        }
        let help = try runIdamoe(["info", "--help"])
        #expect(help.status == 0 && help.stdout.contains("USAGE: idamoe info"))
    }

    @Test("inspect --headless exits 1 with the error when the snapshot cannot be analysed; 0 when it can")
    func headlessFailure() throws {
        let dir = temporaryDirectory()
        // A checkpoint that validation refuses (E = 0), with its probe.
        let (ck, probe) = try writeRouteFiles(in: dir)
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: ck)))
        let text = String(decoding: bytes, as: UTF8.self)
        let range = try #require(text.range(of: "\"idamoe.experts\":\"4\""))
        let offset = text.utf8.distance(from: text.startIndex, to: range.lowerBound) + "\"idamoe.experts\":\"".utf8.count
        bytes[offset] = UInt8(ascii: "0")
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/bad.safetensors"))
        let bad = try runIdamoe(["inspect", dir + "/bad.safetensors", "--probe", probe, "--headless", "--size", "100x30"])
        #expect(bad.status == 1, "\(bad.stderr)")
        #expect(bad.stderr.split(separator: "\n").count == 1 && bad.stderr.contains("idamoe.experts: 0 is outside"))
        let good = try runIdamoe(["inspect", ck, "--probe", probe, "--headless", "--size", "100x30"])
        #expect(good.status == 0 && good.stderr.isEmpty, "\(good.stderr)")
    }
}
