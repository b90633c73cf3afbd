import CVectorMath
import IdaFormats
import IdaBLAS
import Testing
import IdaSystem

@Suite("F16 and BF16 conversions")
struct HalfTests {
    @Test("F16 known values convert exactly both ways", arguments: [
        (Float(1.0), UInt16(0x3C00)),
        (Float(-2.0), UInt16(0xC000)),
        (Float(0.5), UInt16(0x3800)),
        (Float(65504), UInt16(0x7BFF)),  // largest finite
        (Float(0x1p-24), UInt16(0x0001)),  // smallest subnormal
        (Float(0x1p-14), UInt16(0x0400)),  // smallest normal
        (Float(0x1.ff8p-15), UInt16(0x03FF)),  // largest subnormal
        (Float(0.0), UInt16(0x0000)),
        (Float(-0.0), UInt16(0x8000)),
        (Float.infinity, UInt16(0x7C00)),
        (-Float.infinity, UInt16(0xFC00)),
    ])
    func f16Known(value: Float, bits: UInt16) {
        #expect(Half.f16(from: value) == bits)
        #expect(Half.float(fromF16: bits).bitPattern == value.bitPattern)
    }

    @Test("F16 rounds to nearest, ties to even, and overflows to infinity", arguments: [
        (Float(1 + 0x1p-11), UInt16(0x3C00)),  // halfway between 0x3C00 and 0x3C01: even is 0x3C00
        (Float(1 + 3 * 0x1p-11), UInt16(0x3C02)),  // halfway between 0x3C01 and 0x3C02: even is 0x3C02
        (Float(1 + 0x1p-11 + 0x1p-20), UInt16(0x3C01)),  // just above halfway rounds up
        (Float(65519), UInt16(0x7BFF)),  // below the midpoint to 2^16
        (Float(65520), UInt16(0x7C00)),  // the midpoint rounds to even, which is infinity
        (Float(1e10), UInt16(0x7C00)),
        (Float(0x1p-25), UInt16(0x0000)),  // half the smallest subnormal: ties to even (zero)
        (Float(0x1.8p-25), UInt16(0x0001)),  // above the tie
        (Float(3 * 0x1p-25), UInt16(0x0002)),  // 1.5 units: ties to even (2)
        (Float(-0x1p-26), UInt16(0x8000)),  // underflows to -0
        (Float(0x1.ffcp-15), UInt16(0x0400)),  // largest subnormal + half a unit rounds into the normals
        (Float.leastNonzeroMagnitude, UInt16(0x0000)),
    ])
    func f16Rounding(value: Float, bits: UInt16) {
        #expect(Half.f16(from: value) == bits)
    }

    @Test("BF16 known values and rounding", arguments: [
        (Float(1.0), UInt16(0x3F80)),
        (Float(-2.0), UInt16(0xC000)),
        (Float(-0.0), UInt16(0x8000)),
        (Float.infinity, UInt16(0x7F80)),
        (Float(1 + 0x1p-8), UInt16(0x3F80)),  // tie, even stays
        (Float(1 + 3 * 0x1p-8), UInt16(0x3F82)),  // tie, rounds up to even
        (Float(1 + 0x1p-8 + 0x1p-20), UInt16(0x3F81)),
        (Float.greatestFiniteMagnitude, UInt16(0x7F80)),  // rounds past the largest BF16
        (Float(bitPattern: 0x0001_0000), UInt16(0x0001)),  // a subnormal survives
    ])
    func bf16Known(value: Float, bits: UInt16) {
        #expect(Half.bf16(from: value) == bits)
    }

    @Test("NaN stays NaN with its sign, quiet in both formats")
    func nanHandling() {
        #expect(Half.float(fromF16: 0x7E00).isNaN)
        #expect(Half.float(fromF16: 0x7C01).isNaN)  // signalling pattern is still NaN when widened
        #expect(Half.float(fromBF16: 0x7FC0).isNaN)
        let negativeNaN = -Float.nan
        #expect(Half.f16(from: .nan) & 0x7E00 == 0x7E00)
        #expect(Half.f16(from: negativeNaN) & 0x8000 == 0x8000)
        #expect(Half.bf16(from: .nan) & 0x7FC0 == 0x7FC0)
        #expect(Half.bf16(from: Float(bitPattern: 0x7F80_0001)) & 0x7F80 == 0x7F80)  // payload only in low bits
        #expect(Half.float(fromBF16: Half.bf16(from: Float(bitPattern: 0x7F80_0001))).isNaN)
    }

    @Test("the vectorised F16 and BF16 loops give every pattern's single-value bits, from any alignment, at every level",
          arguments: VectorLevel.runnable(on: .current()))
    func loops(level: VectorLevel) {
        var bytes: [UInt8] = [0xAB]  // one byte first: the loop reads an odd address
        for bits in UInt16.min...UInt16.max { bytes += [UInt8(bits & 0xFF), UInt8(bits >> 8)] }
        let n = 65_536
        var half = [Float](repeating: 0, count: n), brain = [Float](repeating: 0, count: n)
        bytes.withUnsafeBufferPointer { p in
            guard let base = p.baseAddress else { return }
            half.withUnsafeMutableBufferPointer { idamoe_f16_to_float_loop(level.rawValue, base + 1, $0.baseAddress, n) }
            brain.withUnsafeMutableBufferPointer { idamoe_bf16_to_float_loop(level.rawValue, base + 1, $0.baseAddress, n) }
        }
        var failures: [Int] = []
        for i in 0..<n {
            let bits = UInt16(i)
            if half[i].bitPattern != Half.float(fromF16: bits).bitPattern { failures.append(i) }
            if brain[i].bitPattern != Half.float(fromBF16: bits).bitPattern { failures.append(i) }
            #if !(os(macOS) && arch(x86_64))
            let reference = Float(Float16(bitPattern: bits))
            if !reference.isNaN, half[i].bitPattern != reference.bitPattern { failures.append(i) }
            #endif
            // NaN payloads move to the top of the float mantissa, quiet bit included.
            if bits & 0x7C00 == 0x7C00, half[i].bitPattern & 0x007F_FFFF != UInt32(bits & 0x03FF) << 13 { failures.append(i) }
        }
        #expect(failures.isEmpty, "first failures: \(failures.prefix(5))")
    }

    @Test("every F16 and BF16 pattern survives widening and narrowing")
    func exhaustiveRoundTrip() {
        var f16Failures: [UInt16] = []
        var bf16Failures: [UInt16] = []
        for bits in UInt16.min...UInt16.max {
            let wide = Half.float(fromF16: bits)
            let isNaN = bits & 0x7C00 == 0x7C00 && bits & 0x03FF != 0
            if isNaN ? !wide.isNaN : Half.f16(from: wide) != bits { f16Failures.append(bits) }
            let brain = Half.float(fromBF16: bits)
            let isBrainNaN = bits & 0x7F80 == 0x7F80 && bits & 0x007F != 0
            if isBrainNaN ? !brain.isNaN : Half.bf16(from: brain) != bits { bf16Failures.append(bits) }
        }
        #expect(f16Failures.isEmpty, "first F16 failures: \(f16Failures.prefix(5))")
        #expect(bf16Failures.isEmpty, "first BF16 failures: \(bf16Failures.prefix(5))")
    }

    #if !(os(macOS) && arch(x86_64))
    @Test("F16 agrees with the standard library's Float16 across the binary32 range")
    func agreesWithFloat16() {
        var mismatches: [UInt32] = []
        for pattern in stride(from: UInt32(0), to: UInt32.max - 4099, by: 4099) {
            let value = Float(bitPattern: pattern)
            if value.isNaN { continue }
            if Half.f16(from: value) != Float16(value).bitPattern { mismatches.append(pattern) }
            let bits = UInt16(truncatingIfNeeded: pattern)
            let reference = Float(Float16(bitPattern: bits))
            if !reference.isNaN, Half.float(fromF16: bits).bitPattern != reference.bitPattern {
                mismatches.append(pattern)
            }
        }
        #expect(mismatches.isEmpty, "first mismatching binary32 patterns: \(mismatches.prefix(5))")
    }
    #endif
}
