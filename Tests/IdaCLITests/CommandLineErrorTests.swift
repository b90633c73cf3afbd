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
            (["info"], "give a checkpoint or probe file, or --system"),
            (["info", "x", "--bogus"], "Unknown option '--bogus'"),
            (["nosuchcommand"], "nosuchcommand"),
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
}
