import ArgumentParser
import Foundation
import IdaBLAS
import IdaFormats
import IdaRouting
import IdaSystem

/// `idamoe info FILE`: what a checkpoint or probe holds; `idamoe info --system`: the machine.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show what a checkpoint or probe file holds (routers, shapes, tensors), or with --system the CPU, OpenBLAS kernel and threads.")

    @Argument(help: "A checkpoint or probe (.safetensors).")
    var file: String?

    @Flag(help: "Describe this machine: CPU model and features, OpenBLAS version and kernel, thread count.")
    var system = false

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func validate() throws {
        if system == (file != nil) { throw ValidationError("give a checkpoint or probe file, or --system") }
    }

    func run() throws {
        guard let file else { return try printSystem() }
        let st = try SafetensorsFile(path: file)
        let isProbe = st.info("tokens") != nil
        var summary: [String: JSONValue] = ["path": .string(file), "kind": .string(isProbe ? "probe" : "checkpoint"),
                                            "metadata": .object(st.metadata.mapValues(JSONValue.string))]
        var lines: [String] = ["\(file): \(isProbe ? "probe" : "checkpoint"), \(st.tensors.count) tensors"]
        if isProbe {
            let probe = try Probe(path: file)
            summary["tokens"] = .int(probe.count)
            summary["layers"] = .array(probe.layers.map(JSONValue.int))
            summary["hidden_dims"] = .object(Dictionary(uniqueKeysWithValues: probe.hiddenDims.map { (String($0.key), JSONValue.int($0.value)) }))
            summary["domains"] = .array(probe.domainNames.map(JSONValue.string))
            lines.append("tokens \(probe.count), " + (probe.layers.isEmpty
                ? "no hidden states (a run's probe: the snapshots' .probe. files hold its router inputs)"
                : "MoE layers \(probe.layers.map(String.init).joined(separator: ",")), "
                    + "hidden width \(Set(probe.hiddenDims.values).sorted().map(String.init).joined(separator: "/"))"))
            if !probe.domainNames.isEmpty { lines.append("domains \(probe.domainNames.joined(separator: ", "))") }
        } else if st.metadata["idamoe.format"] != nil {
            let ck = try RouterCheckpoint(file: st)
            let c = ck.info.config
            var router: [String: JSONValue] = ["router": .string(ck.info.router.rawValue), "moe_layers": .array(ck.info.moeLayers.map(JSONValue.int)),
                                               "experts": .int(c.experts), "top_k": .int(c.topK), "step": ck.info.step.map(JSONValue.int) ?? .null]
            var line = "router \(ck.info.router.rawValue), MoE layers \(ck.info.moeLayers.map(String.init).joined(separator: ",")), "
                + "E \(c.experts), k \(c.topK)"
            if ck.info.router == .ida {
                router["components_per_expert"] = .int(c.componentsPerExpert)
                router["latent_dim"] = .int(c.latentDim)
                router["activation"] = .string(c.activation.rawValue)
                line += ", M \(c.componentsPerExpert), P \(c.latentDim), \(c.activation.rawValue), "
                    + "score \(c.expertScore.rawValue), input norm \(c.inputNorm.rawValue), latent norm \(c.latentNorm.rawValue)"
                router["gate_temperature"] = .number(c.gateTemperature)
                if c.gateTemperature != 1 { line += ", gate temperature \(c.gateTemperature)" }
            }
            let gate = ck.info.gate
            if gate != .standard {
                router["gate_normalize"] = .bool(gate.normalize)
                router["gate_scale"] = .number(Double(gate.scale))
                router["expert_groups"] = .int(gate.groups)
                router["group_top_k"] = .int(gate.groupTopK)
                line += ", gates \(gate.normalize ? "renormalised" : "unrenormalised") x \(gate.scale)"
                if gate.groups > 1 { line += ", best \(gate.groupTopK) of \(gate.groups) expert groups" }
            }
            if let d = ck.routers.values.first?.hiddenDim, d > 0 {
                router["hidden_dim"] = .int(d)
                line += ", D \(d)"
            }
            if let step = ck.info.step { line += ", step \(step)" }
            summary["router"] = .object(router)
            lines.append(line)
        } else {
            lines.append("no idamoe metadata: not an idamoe checkpoint or probe")
        }
        summary["tensors"] = .array(st.tensors.map {
            .object(["name": .string($0.name), "dtype": .string($0.dtype.rawValue), "shape": .array($0.shape.map(JSONValue.int))])
        })
        if json {
            try StandardOutput.json(JSONValue.object(summary).serialized())
            return
        }
        for line in lines { try StandardOutput.line(line) }
        let width = min(60, st.tensors.map(\.name.count).max() ?? 0)
        for t in st.tensors {
            let padded = t.name.padding(toLength: max(width, t.name.count), withPad: " ", startingAt: 0)
            try StandardOutput.line("  \(padded)  \(t.dtype.rawValue.padding(toLength: 4, withPad: " ", startingAt: 0))  \(t.shape)")
        }
    }

    /// `--system`: the facts every benchmark figure depends on.
    func printSystem() throws {
        let s = BLASSystem.current()
        let best = KernelChoice.bestCore(for: s.cpu)
        if json {
            let strings = { (list: [String]) in JSONValue.array(list.map(JSONValue.string)) }
            let object: [String: JSONValue] = [
                "cpu": .string(s.cpu.brand), "vendor": .string(s.cpu.vendor), "family": .int(s.cpu.family), "model": .int(s.cpu.model),
                "stepping": .int(s.cpu.stepping), "features": strings(s.cpu.usableNames), "cores": .int(s.cores),
                "openblas_config": .string(s.config), "openblas_version": .string(s.version), "core": .string(s.kernel.core),
                "core_source": .string(s.kernel.explanation), "best_core": best.map(JSONValue.string) ?? .null,
                "runnable_cores": strings(KernelChoice.runnableCores(for: s.cpu)), "threads": .int(s.threads),
                "vector_level": .string(s.vectorLevel.description),
            ]
            try StandardOutput.json(JSONValue.object(object).serialized())
            return
        }
        let env = ProcessInfo.processInfo.environment
        try StandardOutput.line("cpu       \(s.cpuLine), stepping \(s.cpu.stepping), \(s.cores) cores")
        try StandardOutput.line("features  \(s.cpu.usableNames.joined(separator: " "))")
        try StandardOutput.line("openblas  \(s.version) (\(s.config))")
        try StandardOutput.line("kernel    \(s.kernel.core) (\(s.kernel.explanation))"
              + (best.map { $0 == s.kernel.core ? "" : "; best for this CPU: \($0)" } ?? ""))
        try StandardOutput.line("vector    \(s.vectorLevel) (idamoe's own exp/erf/GELU loops; the widest this CPU runs)")
        try StandardOutput.line("threads   \(s.cores) workers by default (--threads); OpenBLAS \(s.threads) (idamoe splits work itself; "
              + "OPENBLAS_NUM_THREADS \(env["OPENBLAS_NUM_THREADS"] ?? "unset"), "
              + "OPENBLAS_THREAD_TIMEOUT \(env["OPENBLAS_THREAD_TIMEOUT"] ?? "unset"))")
    }
}
