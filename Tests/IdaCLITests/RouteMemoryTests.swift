import Foundation
import IdaTestSupport
import Testing

@Suite("idamoe route: memory independent of N")
struct RouteMemoryTests {
    /// Exit status, standard error and peak resident memory (KiB) of `idamoe arguments` alone, its
    /// standard output discarded. Not wait4's figure for a child this test process spawns: posix_spawn
    /// runs the child in the spawner's memory map until exec, and exec folds that map's high-water
    /// mark into the child's ru_maxrss, so it reported the test process's own peak whenever that was
    /// higher (it grows while other tests run). A small Python process forks the child instead and
    /// reports the child's own figure.
    static func peakOfIdamoe(_ arguments: [String]) throws -> (status: Int32, stderr: String, peakKiB: Int) {
        let script = """
            import os, sys
            pid = os.fork()
            if pid == 0:
                fd = os.open(os.devnull, os.O_WRONLY)
                os.dup2(fd, 1)
                os.execv(sys.argv[1], sys.argv[1:])
            _, status, usage = os.wait4(pid, 0)
            print(usage.ru_maxrss)
            sys.exit(os.waitstatus_to_exitcode(status))
            """
        let result = try runChild("/usr/bin/env", ["python3", "-c", script, idamoeBinary()] + arguments, timeout: 300)
        let peak = Int(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        return (result.status, result.stderr, peak)
    }

    @Test("routing a probe 16 times longer does not raise the peak resident memory (table and JSON lines)")
    func peakDoesNotGrowWithTokens() throws {
        let dir = temporaryDirectory()
        var peaks: [String: [Int]] = [:]
        for (name, tokens) in [("small", 2048), ("large", 32768)] {
            let out = try runIdamoe(["bench", "synth", dir + "/" + name, "--layers", "4", "--experts", "64", "--components", "4",
                                     "--width", "128", "--encoder", "32", "--latent", "8", "--tokens", String(tokens),
                                     "--dtype", "F32"])
            #expect(out.status == 0, "\(out.stderr)")
            for mode in [[], ["--jsonl"]] {
                let (status, stderr, peak) = try Self.peakOfIdamoe(["route", "--checkpoint", dir + "/" + name + "/checkpoint.safetensors",
                                                                    "--probe", dir + "/" + name + "/probe.safetensors", "--threads", "1"] + mode)
                #expect(status == 0, "\(stderr)")
                peaks[name, default: []].append(peak)
            }
        }
        // The large probe's hidden states are 64 MiB (4 x 32768 x 128 F32), all resident by the end
        // before pages were released after each tile (measured +62 MiB). Now only the blocks in flight
        // and the pages the kernel maps around each fault are resident: the peak may move by a few
        // MiB between runs, far below what the hidden states would add.
        let small = peaks["small"] ?? [], large = peaks["large"] ?? []
        #expect(small.count == 2 && large.count == 2)
        for (s, l) in zip(small, large) {
            #expect(l <= s + 16 * 1024, "peak KiB: \(small) for 2,048 tokens, \(large) for 32,768")
        }
    }
}
