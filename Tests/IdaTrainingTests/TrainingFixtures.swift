import Foundation
import IdaTestSupport
import IdaRouting
@testable import IdaTraining


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

/// The tiny model of IdaTestSupport.
func tinyTrainingConfig(router: RouterKind = .ida) -> ModelConfig { TinyModel.config(router: router) }

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
