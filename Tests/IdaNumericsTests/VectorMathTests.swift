import Foundation
import Testing
import IdaNumerics

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

    @Test("buffer loops give the scalar function's bits at every position")
    func loopsMatchScalar() {
        // 37 values: whole vector blocks plus a tail handled one at a time.
        let input = (0..<37).map { Float($0) * 0.37 - 6.1 }
        var value = [Float](repeating: 0, count: 37), slope = value
        Activation.gelu.forward(input, into: &value, slope: &slope)
        for i in input.indices {
            let scalar = VectorMath.gelu(input[i])
            #expect(value[i].bitPattern == scalar.value.bitPattern && slope[i].bitPattern == scalar.slope.bitPattern,
                    "element \(i): \(value[i]), \(slope[i]) vs \(scalar)")
        }
        var inPlace = input, inPlaceSlope = [Float](repeating: 0, count: 37)
        Activation.gelu.forwardInPlace(&inPlace, slope: &inPlaceSlope)
        #expect(inPlace == value && inPlaceSlope == slope)
        var applied = input
        Activation.gelu.applyInPlace(&applied)
        #expect(applied == value)
        #expect(input.map { Activation.gelu.apply($0) } == value)
        #expect(input.map { Activation.gelu.derivative($0) } == slope)
    }
}
