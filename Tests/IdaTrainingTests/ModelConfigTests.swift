import Foundation
import IdaRouting
import IdaNumerics
import Testing
@testable import IdaTraining

@Suite("Model configuration")
struct ModelConfigTests {
    @Test("new runs normalise IDA latents; configurations written before latentNorm existed read as none")
    func latentNormCompatibility() throws {
        #expect(ModelConfig().routerConfig.latentNorm == .rms)
        var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(ModelConfig())) as? [String: Any] ?? [:]
        json.removeValue(forKey: "latentNorm")
        let old = try JSONDecoder().decode(ModelConfig.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(old.latentNorm == nil && old.routerConfig.latentNorm == InputNorm.none)
        // An unknown name in run.json is an error naming the field, not a silent default.
        json["latentNorm"] = "layer"
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(ModelConfig.self, from: JSONSerialization.data(withJSONObject: json))
        }
    }
}
