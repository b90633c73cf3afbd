import Foundation
import IdaFormats
import IdaNumerics
import IdaRouting
import IdaTestSupport
import Testing

@Suite("IDA gate temperature: idamoe.gate_temperature")
struct GateTemperatureTests {
    /// The gate rule on one token's scores.
    func gates(_ scores: [Double], k: Int, temperature: Double) -> (selected: [Int32], weights: [Float]) {
        var selected = [Int32](repeating: 0, count: k), weights = [Float](repeating: 0, count: k)
        scores.withUnsafeBufferPointer { s in
            selected.withUnsafeMutableBufferPointer { sel in
                weights.withUnsafeMutableBufferPointer { w in chooseExperts(s, into: sel, weights: w, temperature: temperature) }
            }
        }
        return (selected, weights)
    }

    @Test("weights are the top-k scores to the power 1/T, renormalised; a zero score keeps weight 0")
    func rule() {
        #expect(gates([0.1, 0.9, 0], k: 2, temperature: 1).weights == [0.9, 0.1])
        let t2 = gates([0.1, 0.9, 0], k: 2, temperature: 2)
        #expect(t2.selected == [1, 0])
        #expect(abs(t2.weights[0] - 0.75) < 1e-6 && abs(t2.weights[1] - 0.25) < 1e-6)
        // Scores far below the best do not underflow: (1e-300)^(1/100) is 1e-3 of the best's.
        let tiny = gates([1, 1e-300], k: 2, temperature: 100)
        #expect(abs(Double(tiny.weights[1]) - 1e-3 / (1 + 1e-3)) < 1e-7)
        #expect(gates([0.5, 0, 0], k: 2, temperature: 3).weights == [1, 0])
    }

    @Test("written only when not 1, read back, and routed with")
    func roundTrip() throws {
        var ck = try makeIDACheckpoint()
        #expect(ck.info.metadata["idamoe.gate_temperature"] == nil)
        ck.info.config.gateTemperature = 4
        #expect(ck.info.metadata["idamoe.gate_temperature"] == "4.0")
        let loaded = try RouterCheckpoint(path: writeCheckpoint(ck))
        #expect(loaded.info.config.gateTemperature == 4)
        guard case let .ida(router)? = loaded.routers[loaded.info.moeLayers[0]] else {
            Issue.record("no IDA router")
            return
        }
        #expect(router.config.gateTemperature == 4)
        // Read in double, as written and as the Python reader reads it: 0.1 stays 0.1.
        let tenth = try RouterCheckpoint(path: writeCheckpoint(makeIDACheckpoint(), metadata: ["idamoe.gate_temperature": "0.1"]))
        #expect(tenth.info.config.gateTemperature == 0.1)
    }

    @Test("bad values are one-line errors naming the key", arguments: ["0", "-1", "nan", "inf", "2000", "warm"])
    func refusals(value: String) throws {
        let path = try writeCheckpoint(makeIDACheckpoint(), metadata: ["idamoe.gate_temperature": value])
        do {
            _ = try RouterCheckpoint(path: path)
            Issue.record("gate temperature \(value) was accepted")
        } catch {
            let text = String(describing: error)
            #expect(text.contains("idamoe.gate_temperature") && !text.contains("\n"), "\(text)")
        }
    }
}
