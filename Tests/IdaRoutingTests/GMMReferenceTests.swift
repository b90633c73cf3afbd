import Foundation
import Testing
import IdaFormats
import IdaNumerics
import IdaTestSupport


@Suite("Diagonal GMM against scikit-learn")
struct GMMReferenceTests {
    /// fixtures/gmm_reference.safetensors, made by Tests/python/make_gmm_reference.py: scikit-learn's
    /// score_samples and predict_proba for points that include far-away ones, a tiny (log var -12) and a
    /// huge (+8) variance, a dominant component (prior 0.97) and points exactly at the means.
    @Test("log-densities and posteriors match score_samples and predict_proba")
    func matchesScikitLearn() throws {
        let file = try SafetensorsFile(path: fixturePath("gmm_reference.safetensors"))
        let z = try file.floats("z")
        let k = file.info("logits")?.shape[0] ?? 0
        let p = file.info("means")?.shape[1] ?? 0
        let n = z.count / max(p, 1)
        let logits = try file.floats("logits"), means = try file.floats("means"), logVars = try file.floats("log_vars")
        // The fixture's parameters are float32-representable, so storing them as Float loses nothing.
        #expect(try file.doubles("means") == means.map(Double.init))
        #expect(try file.doubles("log_vars") == logVars.map(Double.init))
        let gmm = DiagonalGMM(logits: logits, means: Matrix(rows: k, cols: p, data: means),
                              logVars: Matrix(rows: k, cols: p, data: logVars), logVarMin: -1000, logVarMax: 1000)
        let ev = gmm.evaluate(Matrix(rows: n, cols: p, data: z))
        // Log-joints are double; the posterior numerators are float exponentials of double differences
        // (about 7 digits each, as in routing's row pass), so log p(z) = peak + log(sum) is within about
        // 1e-7 and each posterior within a few 1e-7 relative.
        let density = checkTensor("log_prob", ev.logDensity, try file.doubles("expected_log_prob"), rtol: 1e-9, atol: 5e-7)
        #expect(density.ok, "\(density)")
        let posterior = checkTensor("posterior", ev.posterior, try file.doubles("expected_posterior"), rtol: 1e-6, atol: 1e-12)
        #expect(posterior.ok, "\(posterior)")
    }
}
