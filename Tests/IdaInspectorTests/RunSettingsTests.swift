import IdaFormats
import IdaRouting
import Testing
@testable import IdaInspector

@Suite("Run settings in titles")
struct RunSettingsTests {
    /// The lenient description of a run.json text.
    func run(_ text: String) throws -> RunDescription { try #require(RunDescription(json: Array(text.utf8))) }

    @Test("IDA runs show reactivation, latent norm and seed; softmax runs their aux loss; old runs read as latent none")
    func summaries() throws {
        let ida = try run(#"{"model":{"router":"ida","latentNorm":"rms"},"training":{"reactivation":"reset","seed":3}}"#)
        #expect(RunSettings.summary(ida) == "reactivation reset · latent rms · seed 3")
        let nll = try run(#"{"model":{"router":"ida","latentNorm":"rms"},"training":{"reactivation":"reset","seed":3,"nllToEncoder":true}}"#)
        #expect(RunSettings.summary(nll) == "reactivation reset · latent rms · nll to encoder · seed 3")
        let current = try run(#"{"model":{"router":"ida","latentNorm":"rms","gateTemperature":4},"training":{"reactivation":"reset","reseed":"pool","seed":1}}"#)
        #expect(RunSettings.summary(current) == "reactivation reset from pool · latent rms · gate T 4 · seed 1")
        let split = try run(#"{"model":{"router":"ida","latentNorm":"rms","gateTemperature":4,"priorMass":"per-expert"},"training":{"reactivation":"reset","reseed":"split","seed":4}}"#)
        #expect(RunSettings.summary(split) == "reactivation reset by split · latent rms · gate T 4 · prior 1/E per expert · seed 4")
        let old = try run(#"{"model":{"router":"ida"},"training":{"reactivation":"loss","seed":1}}"#)
        #expect(RunSettings.summary(old) == "reactivation loss · latent none · seed 1")
        let softmax = try run(#"{"model":{"router":"softmax"},"training":{"auxLoss":0.01,"seed":2}}"#)
        #expect(RunSettings.summary(softmax) == "aux 0.010 · seed 2")
        let plain = try run(#"{"model":{"router":"softmax"},"training":{"auxLoss":0}}"#)
        #expect(RunSettings.summary(plain) == "no aux loss")
        #expect(RunSettings.summary(try run("{}")) == nil)
        #expect(RunSettings.summary(runDirectory: "/nonexistent") == nil)
    }

    @Test("run.json read leniently: other producers' keys, damaged fields as absent, absent optional settings as nil")
    func lenient() throws {
        let torch = try run(#"{"producer":"idamoe_torch 0.1.0","runId":"00ff","created":5,"domains":["a"],"#
                            + #""model":{"router":"softmax","experts":64,"topK":"two","gateBias":true},"training":{"auxLoss":0.02,"reactTau":0.2}}"#)
        #expect(torch.producer == "idamoe_torch 0.1.0" && torch.runId == "00ff" && torch.created == 5 && torch.domains == ["a"])
        #expect(torch.model.router == .softmax && torch.model.experts == 64 && torch.model.gateBias)
        #expect(torch.model.topK == ModelConfig().topK, "a string where a number belongs is absent")
        #expect(torch.modelKeys == ["router", "experts", "gateBias"] && torch.trainingKeys == ["auxLoss", "reactTau"])
        #expect(torch.model.latentNorm == nil && torch.model.gateTemperature == nil, "settings newer than the run read as nil")
        #expect(torch.training.reseed == nil && torch.training.probeRule == nil)
        #expect(RunDescription(json: Array("[1]".utf8)) == nil && RunDescription(json: Array("not json".utf8)) == nil)
        // What idamoe train writes reads back whole.
        let manifest = RunManifest(model: ModelConfig(), training: TrainingOptions(), domains: ["x"], corpusBytes: 1, parameters: 2,
                                   probeTokens: 3, created: 4)
        let written = try run(manifest.encoded())
        #expect(written.model == manifest.model && written.training == manifest.training && written.runId == manifest.runId)
        #expect(written.modelKeys.count == ModelConfig.settings.count && written.trainingKeys.count == TrainingOptions.settings.count)
    }

    @Test("a capture says what it is a capture of, and that it has no training; an unverified one says so")
    func captures() throws {
        let capture = try run(#"{"format":1,"producer":"idamoe_torch 0.1.0","created":1,"domains":["bytes, no tokenizer"],"#
                              + #""model":{"router":"softmax","experts":4},"training":{"auxLoss":0},"#
                              + #""capture":{"architecture":"MixtralForCausalLM","modelDir":"/m","tokens":"bytes, no tokenizer","window":32}}"#)
        #expect(RunSettings.summary(capture) == "capture of MixtralForCausalLM · tokens: bytes, no tokenizer")
        #expect(RunSettings.trainingNote(capture) == "no training: the routers of MixtralForCausalLM captured on a text")
        let unverified = try run(#"{"model":{"router":"softmax"},"training":{},"capture":{"architecture":"Llama4ForCausalLM","unverified":true}}"#)
        #expect(RunSettings.summary(unverified) == "UNVERIFIED capture of Llama4ForCausalLM")
        #expect(RunSettings.trainingNote(try run(#"{"model":{"router":"ida"},"training":{"seed":1}}"#)) == nil)
        // What the loss is per: as run.json says, nats per byte when it says nothing (or nonsense).
        #expect(try run(#"{"lossUnit":"nats/token"}"#).lossUnit == .natsPerToken)
        #expect(try run(#"{}"#).lossUnit == .natsPerByte && (try run(#"{"lossUnit":"bits/word"}"#)).lossUnit == .natsPerByte)
    }

    @Test("an import names what recorded it, its ranks and its tokens; its training panel says no loss was recorded")
    func imports() throws {
        let imported = try run(#"{"format":1,"created":1,"domains":["rank 0","rank 1"],"model":{"router":"recorded","experts":8,"topK":2},"#
                               + #""training":{},"imported":{"producer":"Megatron-Core","records":"router trace","source":"/t","ranks":2,"#
                               + #""tokens":"not recorded","notes":["4 mtp records left out"]}}"#)
        #expect(imported.imported?.ranks == 2 && imported.imported?.notes == ["4 mtp records left out"])
        #expect(imported.model.router == .recorded)
        #expect(RunSettings.summary(imported) == "Megatron-Core router trace, imported · 2 ranks · tokens: not recorded")
        #expect(RunSettings.trainingNote(imported) == "no loss recorded: routing decisions of Megatron-Core router trace, imported")
        // A damaged record is as if absent; terminal controls in it are escaped before a screen shows them.
        #expect(try run(#"{"imported":{"ranks":"two"}}"#).imported == nil)
        let hostile = try run(#"{"imported":{"producer":"x\u001b[2Jy","records":"trace"}}"#)
        #expect(hostile.imported?.producer == "x\u{1b}[2Jy")
        #expect(RunSettings.summary(hostile)?.contains("\u{1b}") == false)
    }
}
