import Testing
@testable import IdaInspector

@Suite("Number formats")
struct ViewFormatTests {
    @Test("fitting drops decimals, then scales, and never exceeds the width")
    func fitting() {
        #expect(ViewFormat.fitting(385.27, width: 7) == "385.270")
        #expect(ViewFormat.fitting(2297.71, width: 7) == "2297.71")
        #expect(ViewFormat.fitting(123456.7, width: 7) == "123457")
        #expect(ViewFormat.fitting(12_345_678, width: 7) == "12.3M")
        #expect(ViewFormat.fitting(-0.5, width: 7) == "-0.500")
        #expect(ViewFormat.fitting(0.0137, width: 5, decimals: 2) == "0.01")
        #expect(ViewFormat.fitting(.nan, width: 7) == "nan")
        #expect(ViewFormat.fitting(-3e12, width: 6) == "-3e12")
        for v in [1e-9, 9.9999, -99999.5, 1e15, -3e12] {
            #expect(ViewFormat.fitting(v, width: 6).count <= 6, "\(v)")
        }
    }
}
