import Foundation
import IdaBLAS
import Testing
import IdaSystem

@Suite("idamoe info --system and the kernel it runs")
struct SystemInfoTests {
    /// The binary's `info --system --json`, with `environment` applied and the kernel variables unset.
    func systemInfo(_ environment: [String: String] = [:]) throws -> [String: Any] {
        let unset = environment[KernelChoice.variable] == nil ? [KernelChoice.variable, KernelChoice.replacedVariable] : []
        let run = try runIdamoe(["info", "--system", "--json"], environment: environment, unsetting: unset)
        #expect(run.status == 0, "\(run.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        return try #require(object)
    }

    @Test("on a CPU with AVX2 the binary never runs a generic core when the user set none")
    func noGenericCore() throws {
        let info = try systemInfo()
        let core = try #require(info["core"] as? String)
        let features = CPUFeatures.current()
        if let best = KernelChoice.bestCore(for: features) {
            let rank = KernelChoice.rank(of: core) ?? 99  // a core we do not rank is OpenBLAS's own, newer choice
            #expect(rank >= (KernelChoice.rank(of: best) ?? 0), "ran \(core) on a CPU that runs \(best)")
        }
        #expect((info["threads"] as? Int ?? 0) >= 1)
        #expect((info["openblas_version"] as? String)?.isEmpty == false)
        #expect(info["cpu"] as? String == features.brand)
        #expect(info["vector_level"] as? String == VectorLevel.best(for: features).description)
    }

    @Test("a core the user set wins")
    func userCoreWins() throws {
        let info = try systemInfo([KernelChoice.variable: "Prescott"])
        #expect(info["core"] as? String == "Prescott")
        #expect(info["core_source"] as? String == "set by OPENBLAS_CORETYPE")
    }

    @Test("the text form names the CPU, OpenBLAS version, kernel, vector level and threads")
    func textForm() throws {
        let run = try runIdamoe(["info", "--system"], environment: ["OPENBLAS_NUM_THREADS": "1"])
        #expect(run.status == 0)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.map { $0.prefix(9).trimmingCharacters(in: .whitespaces) }
                == ["cpu", "features", "openblas", "kernel", "vector", "threads"])
        #expect(lines[4].hasPrefix("vector    \(VectorLevel.current) "), "\(lines)")
        #expect(lines.last?.contains("OpenBLAS 1 (idamoe splits work itself; OPENBLAS_NUM_THREADS 1") == true, "\(lines)")
    }

    @Test("info needs a file or --system, not both")
    func arguments() throws {
        let neither = try runIdamoe(["info"])
        #expect(neither.status != 0)
        #expect(neither.stderr.contains("--system"))
        let both = try runIdamoe(["info", "x.safetensors", "--system"])
        #expect(both.status != 0)
    }
}
