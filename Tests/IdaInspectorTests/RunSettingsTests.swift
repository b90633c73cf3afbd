import IdaFormats
import Testing
@testable import IdaInspector

@Suite("Run settings in titles")
struct RunSettingsTests {
    @Test("IDA runs show reactivation, latent norm and seed; softmax runs their aux loss; old runs read as latent none")
    func summaries() throws {
        let ida = try JSONValue.parse(#"{"model":{"router":"ida","latentNorm":"rms"},"training":{"reactivation":"reset","seed":3}}"#)
        #expect(RunSettings.summary(ida) == "reactivation reset · latent rms · seed 3")
        let nll = try JSONValue.parse(#"{"model":{"router":"ida","latentNorm":"rms"},"training":{"reactivation":"reset","seed":3,"nllToEncoder":true}}"#)
        #expect(RunSettings.summary(nll) == "reactivation reset · latent rms · nll to encoder · seed 3")
        let current = try JSONValue.parse(#"{"model":{"router":"ida","latentNorm":"rms","gateTemperature":4},"training":{"reactivation":"reset","reseed":"pool","seed":1}}"#)
        #expect(RunSettings.summary(current) == "reactivation reset from pool · latent rms · gate T 4 · seed 1")
        let old = try JSONValue.parse(#"{"model":{"router":"ida"},"training":{"reactivation":"loss","seed":1}}"#)
        #expect(RunSettings.summary(old) == "reactivation loss · latent none · seed 1")
        let softmax = try JSONValue.parse(#"{"model":{"router":"softmax"},"training":{"auxLoss":0.01,"seed":2}}"#)
        #expect(RunSettings.summary(softmax) == "aux 0.010 · seed 2")
        let plain = try JSONValue.parse(#"{"model":{"router":"softmax"},"training":{"auxLoss":0}}"#)
        #expect(RunSettings.summary(plain) == "no aux loss")
        #expect(RunSettings.summary(try JSONValue.parse("{}")) == nil)
        #expect(RunSettings.summary(runDirectory: "/nonexistent") == nil)
    }
}
