import Foundation
import IdaRouting
@testable import IdaTraining

/// A fresh temporary directory.
func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "idamoe-train-" + UUID().uuidString
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A three-domain corpus of fortune-style files in `dir`.
func writeCorpus(in dir: String) throws -> String {
    let corpus = dir + "/corpus"
    try FileManager.default.createDirectory(atPath: corpus, withIntermediateDirectories: true)
    let domains = [
        "code": (0..<40).map { "func f\($0)(x: Int) -> Int { return x * \($0) + 1 }\n" },
        "poems": (0..<40).map { "Roses number \($0) are red,\nviolets are blue;\nline \($0) is said\n" },
        "math": (0..<40).map { "\($0) + \($0 * 2) = \($0 * 3), and \($0) * 2 = \($0 * 2)\n" },
    ]
    for (name, docs) in domains {
        try docs.joined(separator: "%\n").write(toFile: corpus + "/" + name, atomically: true, encoding: .utf8)
    }
    return corpus
}

/// A tiny model: D 16, 2 heads, 2 blocks, T 16, E 4, k 2, F 16, M 2, P 4.
func tinyTrainingConfig(router: RouterKind = .ida) -> ModelConfig {
    var c = ModelConfig()
    c.width = 16
    c.heads = 2
    c.blocks = 2
    c.context = 16
    c.experts = 4
    c.topK = 2
    c.expertHidden = 16
    c.router = router
    c.componentsPerExpert = 2
    c.latentDim = 4
    c.routerHidden = [8]
    return c
}

/// Options for a few quick steps on `corpus`.
func tinyOptions(corpus: String, steps: Int = 6) -> TrainingOptions {
    var o = TrainingOptions()
    o.steps = steps
    o.batch = 2
    o.warmup = 2
    o.snapshotEvery = 3
    o.evalEvery = 3
    o.evalWindows = 1
    o.threads = 1
    o.reactEvery = 2
    o.validationShare = 0.2
    o.corpus = [corpus]
    return o
}
