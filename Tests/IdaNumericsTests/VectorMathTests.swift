import Foundation
import Testing
import CVectorMath
import IdaBLAS
import IdaNumerics
import IdaSystem

/// The error bounds stated in VectorMath's documentation, checked against Foundation's double-precision
/// exp and erf on dense grids (tails included) and on special values.
@Suite("VectorMath: exp, erf and GELU against double-precision references")
struct VectorMathTests {
    /// |got - ref| in units of the float spacing at |ref|.
    static func ulps(_ got: Float, _ ref: Double) -> Double {
        if Double(got) == ref { return 0 }
        let spacing = Double(Float(abs(ref)).ulp)
        return abs(Double(got) - ref) / spacing
    }

    /// start, start + step, ... up to end, plus ten tiny magnitudes of each sign.
    static func grid(_ start: Float, _ end: Float, step: Float) -> [Float] {
        var values: [Float] = []
        var i = 0
        while true {
            let v = start + Float(i) * step
            if v > end { break }
            values.append(v)
            i += 1
        }
        for e in stride(from: -38, through: -2, by: 4) {
            values.append(Float(Foundation.pow(10.0, Double(e))))
            values.append(-Float(Foundation.pow(10.0, Double(e))))
        }
        return values
    }

    @Test("exp: below 1 ulp for normal results, one subnormal ulp below, inf above 88.73")
    func exp() {
        var worst = 0.0, worstAt: Float = 0
        for x in Self.grid(-110, 95, step: 0.000_93) {
            let got = VectorMath.exp(x), ref = Foundation.exp(Double(x))
            if ref > 3.41e38 {
                #expect(got == .infinity, "exp(\(x)) = \(got), expected inf")
            } else if ref >= Double(Float.leastNormalMagnitude) && ref < 3.40e38 {
                let error = Self.ulps(got, ref)
                if error > worst { (worst, worstAt) = (error, x) }
            } else if ref < Double(Float.leastNormalMagnitude) {
                #expect(abs(Double(got) - ref) <= Double(Float.leastNonzeroMagnitude), "exp(\(x)) = \(got), expected \(ref)")
            }
        }
        #expect(worst < 1, "exp: worst error \(worst) ulp at \(worstAt)")
        #expect(VectorMath.exp(.nan).isNaN)
        #expect(VectorMath.exp(.infinity) == .infinity)
        #expect(VectorMath.exp(-.infinity) == 0)
        #expect(VectorMath.exp(0) == 1 && VectorMath.exp(-0.0) == 1)
        #expect(VectorMath.exp(-104) == 0 && VectorMath.exp(-Float.greatestFiniteMagnitude) == 0)
        #expect(VectorMath.exp(89) == .infinity && VectorMath.exp(Float.greatestFiniteMagnitude) == .infinity)
    }

    @Test("exp's subnormal results (built from integers, no subnormal arithmetic): every float from -104 to -87, at every level",
          arguments: VectorLevel.runnable(on: .current()))
    func expSubnormalBand(level: VectorLevel) {
        var inputs: [Float] = []
        var x: Float = -104
        while x <= -87 { inputs.append(x); x = x.nextUp }
        var out = [Float](repeating: 0, count: inputs.count)
        inputs.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                VectorMath.expShifted(i.baseAddress!, into: o.baseAddress!, shift: 0, count: i.count, level: level)
            }
        }
        var failures: [Float] = []
        for (x, got) in zip(inputs, out) {
            let ref = Foundation.exp(Double(x))
            // Within one subnormal step of e^x; the generic loop also gives the scalar function's bits (the
            // other levels contract products into FMAs, which moves last bits inside the bound).
            let sameBits = level != .generic || got.bitPattern == VectorMath.exp(x).bitPattern
            if abs(Double(got) - ref) > Double(Float.leastNonzeroMagnitude) || !sameBits {
                failures.append(x)
            }
        }
        #expect(inputs.count > 2_000_000 && failures.isEmpty, "\(failures.count) failures, first \(failures.prefix(3))")
    }

    @Test("erf: below 1.3 ulp everywhere, exact limits and signs")
    func erf() {
        var worst = 0.0, worstAt: Float = 0
        for x in Self.grid(-12, 12, step: 0.000_37) {
            let error = Self.ulps(VectorMath.erf(x), Foundation.erf(Double(x)))
            if error > worst { (worst, worstAt) = (error, x) }
        }
        #expect(worst < 1.3, "erf: worst error \(worst) ulp at \(worstAt)")
        #expect(VectorMath.erf(.nan).isNaN)
        #expect(VectorMath.erf(.infinity) == 1 && VectorMath.erf(-.infinity) == -1)
        #expect(VectorMath.erf(0) == 0 && VectorMath.erf(-0.0).sign == .minus)
        #expect(VectorMath.erf(1e30) == 1 && VectorMath.erf(-1e30) == -1)
    }

    @Test("GELU value and slope within the stated bounds, tails included")
    func gelu() {
        var worstValue = 0.0, worstSlope = 0.0, worstValueAt: Float = 0, worstSlopeAt: Float = 0
        for u in Self.grid(-20, 20, step: 0.000_41) {
            let ud = Double(u)
            let cdf = 0.5 * Foundation.erfc(-ud / 2.0.squareRoot())
            let value = ud * cdf
            let slope = cdf + ud * Foundation.exp(-0.5 * ud * ud) / (2 * Double.pi).squareRoot()
            let (gotValue, gotSlope) = VectorMath.gelu(u)
            let relative = (4 + 2 * ud * ud) * 6e-8
            // Ratios of the error to the stated bound: below 1 means within it.
            let valueRatio = abs(Double(gotValue) - value) / (relative * abs(value) + 1e-38)
            let slopeRatio = abs(Double(gotSlope) - slope) / (2e-7 + relative * abs(slope))
            if valueRatio > worstValue { (worstValue, worstValueAt) = (valueRatio, u) }
            if slopeRatio > worstSlope { (worstSlope, worstSlopeAt) = (slopeRatio, u) }
        }
        #expect(worstValue <= 1, "GELU value: \(worstValue) x the bound at \(worstValueAt)")
        #expect(worstSlope <= 1, "GELU slope: \(worstSlope) x the bound at \(worstSlopeAt)")
        let nan = VectorMath.gelu(.nan)
        #expect(nan.value.isNaN && nan.slope.isNaN)
        #expect(VectorMath.gelu(.infinity) == (.infinity, 1))
        #expect(VectorMath.gelu(-.infinity) == (0, 0))
        #expect(VectorMath.gelu(0) == (0, 0.5))
        #expect(VectorMath.gelu(-1e30) == (0, 0) && VectorMath.gelu(1e30) == (1e30, 1))
    }

    /// The loops at `level` over `input`.
    static func geluLoop(_ input: [Float], level: VectorLevel) -> (value: [Float], slope: [Float]) {
        var value = [Float](repeating: 0, count: input.count), slope = value
        input.withUnsafeBufferPointer { i in
            value.withUnsafeMutableBufferPointer { v in
                slope.withUnsafeMutableBufferPointer { g in
                    VectorMath.activation(.gelu, i.baseAddress!, value: v.baseAddress!, slope: g.baseAddress!, count: i.count,
                                          level: level)
                }
            }
        }
        return (value, slope)
    }

    static func expLoop(_ input: [Float], shift: Float, level: VectorLevel) -> [Float] {
        var out = [Float](repeating: 0, count: input.count)
        input.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                VectorMath.expShifted(i.baseAddress!, into: o.baseAddress!, shift: shift, count: i.count, level: level)
            }
        }
        return out
    }

    @Test("every vector level this CPU runs keeps the GELU and exp bounds, tails and special values included",
          arguments: VectorLevel.runnable(on: .current()))
    func levels(level: VectorLevel) {
        let input = Self.grid(-20, 20, step: 0.000_83) + [.nan, .infinity, -.infinity, 0, 1e30, -1e30]
        let (values, slopes) = Self.geluLoop(input, level: level)
        var worstValue = 0.0, worstSlope = 0.0
        for (i, u) in input.enumerated() where u.isFinite && abs(u) < 1e29 {
            let ud = Double(u)
            let cdf = 0.5 * Foundation.erfc(-ud / 2.0.squareRoot())
            let relative = (4 + 2 * ud * ud) * 6e-8
            let slope = cdf + ud * Foundation.exp(-0.5 * ud * ud) / (2 * Double.pi).squareRoot()
            worstValue = max(worstValue, abs(Double(values[i]) - ud * cdf) / (relative * abs(ud * cdf) + 1e-38))
            worstSlope = max(worstSlope, abs(Double(slopes[i]) - slope) / (2e-7 + relative * abs(slope)))
        }
        #expect(worstValue <= 1 && worstSlope <= 1, "\(level): GELU value \(worstValue), slope \(worstSlope) x the bound")
        let n = input.count
        #expect(values[n - 6].isNaN && slopes[n - 6].isNaN)
        #expect(values[n - 5] == .infinity && slopes[n - 5] == 1 && values[n - 4] == 0 && slopes[n - 4] == 0)
        #expect(values[n - 3] == 0 && slopes[n - 3] == 0.5 && values[n - 2] == 1e30 && values[n - 1] == 0)

        let xs = Self.grid(-110, 95, step: 0.0031)
        let shift: Float = 1.5
        let exps = Self.expLoop(xs, shift: shift, level: level)
        var worst = 0.0
        for (x, got) in zip(xs, exps) {
            let ref = Foundation.exp(Double(x - shift))
            if ref >= Double(Float.leastNormalMagnitude) && ref < 3.40e38 { worst = max(worst, Self.ulps(got, ref)) }
            if ref > 3.41e38 { #expect(got == .infinity) }
        }
        #expect(worst < 1, "\(level): exp worst \(worst) ulp")
    }

    @Test("a value's bits do not depend on its position in a buffer or on in-place use, at every level",
          arguments: VectorLevel.runnable(on: .current()))
    func positionIndependent(level: VectorLevel) {
        // 37 values: whole vectors at every width plus a tail handled one at a time.
        let input = (0..<37).map { Float($0) * 0.37 - 6.1 }
        let (value, slope) = Self.geluLoop(input, level: level)
        for i in input.indices {
            let alone = Self.geluLoop([input[i]], level: level)
            #expect(value[i].bitPattern == alone.value[0].bitPattern && slope[i].bitPattern == alone.slope[0].bitPattern,
                    "element \(i) at \(level)")
        }
        var inPlace = input
        inPlace.withUnsafeMutableBufferPointer { v in
            VectorMath.activation(.gelu, v.baseAddress!, value: v.baseAddress!, slope: nil, count: v.count, level: level)
        }
        #expect(inPlace == value)
        let exps = Self.expLoop(input, shift: 0.25, level: level)
        for i in input.indices { #expect(exps[i].bitPattern == Self.expLoop([input[i]], shift: 0.25, level: level)[0].bitPattern) }
    }

    @Test("the generic loops give the scalar functions' bits; Activation's buffer paths agree with each other")
    func loopsMatchScalar() {
        let input = (0..<37).map { Float($0) * 0.37 - 6.1 }
        let generic = Self.geluLoop(input, level: .generic)
        for i in input.indices {
            let scalar = VectorMath.gelu(input[i])
            #expect(generic.value[i].bitPattern == scalar.value.bitPattern && generic.slope[i].bitPattern == scalar.slope.bitPattern,
                    "element \(i): \(generic.value[i]), \(generic.slope[i]) vs \(scalar)")
            #expect(Self.expLoop([input[i]], shift: 0, level: .generic)[0].bitPattern == VectorMath.exp(input[i]).bitPattern)
        }
        var value = [Float](repeating: 0, count: 37), slope = value
        Activation.gelu.forward(input, into: &value, slope: &slope)
        #expect((value, slope) == Self.geluLoop(input, level: VectorMath.level))
        var inPlace = input, inPlaceSlope = [Float](repeating: 0, count: 37)
        Activation.gelu.forwardInPlace(&inPlace, slope: &inPlaceSlope)
        #expect(inPlace == value && inPlaceSlope == slope)
        var applied = input
        Activation.gelu.applyInPlace(&applied)
        #expect(applied == value)
        var valueOnly = [Float](repeating: 0, count: 37)
        Activation.gelu.forward(input, into: &valueOnly)
        #expect(valueOnly == value)
        // Single values (apply, derivative) use the generic code: within a few ulp of the loops.
        for i in input.indices {
            #expect(abs(Activation.gelu.apply(input[i]) - value[i]) <= 4 * value[i].ulp + 1e-38)
            #expect(abs(Activation.gelu.derivative(input[i]) - slope[i]) <= 4e-7)
        }
    }
}

@Suite("VectorMath: log2 and entropy in double")
struct EntropyLoopTests {
    /// Positive doubles from the smallest subnormal to 1e300, near 1 and near the mantissa split at sqrt 2.
    static let inputs: [Double] = {
        var x: [Double] = []
        for i in 0..<40_000 { x.append(Foundation.pow(10, -323 + 623 * Double(i) / 40_000)) }
        for i in 1..<5_000 { x.append(1 + Double(i) * 1e-9); x.append(1 - Double(i) * 1e-9) }
        for i in -2_000..<2_000 { x.append(2.0.squareRoot() * (1 + Double(i) * 1e-12)) }
        x += [Double.leastNonzeroMagnitude, Double.leastNormalMagnitude, Double.leastNormalMagnitude.nextDown, 1, 2, 0.5,
              Double.greatestFiniteMagnitude]
        return x
    }()

    @Test("log2 within 3 ulp of the result (measured against Foundation's log2), subnormals included")
    func log2Bound() {
        var worst = 0.0, worstX = 0.0
        for x in Self.inputs {
            let reference = Foundation.log2(x)
            let got = idamoe_log2_double(x)
            let ulps = abs(got - reference) / max(reference.ulp, Double.leastNormalMagnitude)
            if ulps > worst { worst = ulps; worstX = x }
        }
        #expect(worst <= 3, "worst \(worst) ulp at \(worstX)")
    }

    @Test("entropy: the Swift sum's value within 1e-15 relative, zeros and NaN skipped, at every level",
          arguments: VectorLevel.runnable(on: .current()))
    func entropy(level: VectorLevel) {
        var rng = SeededGenerator(seed: 23)
        for count in [1, 2, 7, 8, 9, 64, 128, 131] {
            var p = (0..<count).map { _ in Foundation.exp(-30 * Double.random(in: 0...1, using: &rng)) }
            if count > 3 { p[1] = 0; p[2] = .nan; p[0] = -0.5 }
            let total = p.filter { $0 > 0 }.reduce(0, +)
            p = p.map { $0 > 0 ? $0 / total : $0 }
            var reference = 0.0
            for v in p where v > 0 { reference -= v * Foundation.log2(v) }
            let got = p.withUnsafeBufferPointer { VectorMath.entropyBits($0.baseAddress!, count: count, level: level) }
            #expect(abs(got - reference) <= 1e-15 * max(reference, 1), "count \(count) at \(level): \(got) vs \(reference)")
        }
        let point = [1.0, 0, 0]
        #expect(point.withUnsafeBufferPointer { VectorMath.entropyBits($0.baseAddress!, count: 3, level: level) } == 0)
        let uniform = [Double](repeating: 1.0 / 128, count: 128)
        #expect(uniform.withUnsafeBufferPointer { VectorMath.entropyBits($0.baseAddress!, count: 128, level: level) } == 7)
    }
}
