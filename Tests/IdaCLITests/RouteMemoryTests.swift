import Foundation
import IdaTestSupport
import Testing

@Suite("idamoe route: memory independent of N")
struct RouteMemoryTests {
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
                let route = try runIdamoe(["route", "--checkpoint", dir + "/" + name + "/checkpoint.safetensors",
                                           "--probe", dir + "/" + name + "/probe.safetensors", "--threads", "1"] + mode)
                #expect(route.status == 0, "\(route.stderr)")
                peaks[name, default: []].append(route.peakResidentKiB)
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
