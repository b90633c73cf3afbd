import ArgumentParser
import Foundation
import IdaFormats
import IdaRouting

/// `idamoe info FILE`: what a checkpoint or probe holds.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show what a checkpoint or probe file holds: routers, shapes, tensors.")

    @Argument(help: "A checkpoint or probe (.safetensors).")
    var file: String

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func run() throws {
        let st = try SafetensorsFile(path: file)
        let isProbe = st.info("tokens") != nil
        var summary: [String: Any] = ["path": file, "kind": isProbe ? "probe" : "checkpoint",
                                      "metadata": st.metadata]
        var lines: [String] = ["\(file): \(isProbe ? "probe" : "checkpoint"), \(st.tensors.count) tensors"]
        if isProbe {
            let probe = try Probe(path: file)
            summary["tokens"] = probe.count
            summary["layers"] = probe.layers
            summary["hidden_dims"] = Dictionary(uniqueKeysWithValues: probe.hiddenDims.map { (String($0.key), $0.value) })
            summary["domains"] = probe.domainNames
            lines.append("tokens \(probe.count), MoE layers \(probe.layers.map(String.init).joined(separator: ",")), "
                         + "hidden width \(Set(probe.hiddenDims.values).sorted().map(String.init).joined(separator: "/"))")
            if !probe.domainNames.isEmpty { lines.append("domains \(probe.domainNames.joined(separator: ", "))") }
        } else if st.metadata["idamoe.format"] != nil {
            let ck = try RouterCheckpoint(file: st)
            let c = ck.info.config
            var router: [String: Any] = ["router": ck.info.router.rawValue, "moe_layers": ck.info.moeLayers,
                                         "experts": c.experts, "top_k": c.topK, "step": ck.info.step as Any]
            var line = "router \(ck.info.router.rawValue), MoE layers \(ck.info.moeLayers.map(String.init).joined(separator: ",")), "
                + "E \(c.experts), k \(c.topK)"
            if ck.info.router == .ida {
                router["components_per_expert"] = c.componentsPerExpert
                router["latent_dim"] = c.latentDim
                router["activation"] = c.activation.rawValue
                line += ", M \(c.componentsPerExpert), P \(c.latentDim), \(c.activation.rawValue), "
                    + "score \(c.expertScore.rawValue), input norm \(c.inputNorm.rawValue), latent norm \(c.latentNorm.rawValue)"
            }
            if let d = ck.routers.values.first?.hiddenDim {
                router["hidden_dim"] = d
                line += ", D \(d)"
            }
            if let step = ck.info.step { line += ", step \(step)" }
            summary["router"] = router
            lines.append(line)
        } else {
            lines.append("no idamoe metadata: not an idamoe checkpoint or probe")
        }
        summary["tensors"] = st.tensors.map { ["name": $0.name, "dtype": $0.dtype.rawValue, "shape": $0.shape] as [String: Any] }
        if json {
            let data = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        lines.forEach { print($0) }
        let width = min(60, st.tensors.map(\.name.count).max() ?? 0)
        for t in st.tensors {
            let padded = t.name.padding(toLength: max(width, t.name.count), withPad: " ", startingAt: 0)
            print("  \(padded)  \(t.dtype.rawValue.padding(toLength: 4, withPad: " ", startingAt: 0))  \(t.shape)")
        }
    }
}
