import Foundation
import Testing
import IdaNumerics
import IdaSystem

/// The bounds VectorMath states for the tanh GELU, SiLU and tanh, checked at every vector level the
/// processor runs against double-precision references built on Foundation's exp and tanh; special
/// values; bits that do not depend on a value's place in a buffer; Activation's buffer paths.
@Suite("VectorMath: tanh GELU, SiLU and tanh against double-precision references")
struct ActivationLoopTests {
    /// What the docs promise for one activation. Value: ulp of the value (tanh GELU: per 1 + |t|).
    /// Slope: ulp of the slope for tanh; for SiLU and the tanh GELU, units of 2^-24 (s + |u s (1 - s) t'|)
    /// (tanh GELU: per 1 + |t|), since their slopes cross zero. Tail: the absolute error allowed where
    /// e^-t overflows or the sigmoid goes subnormal (t < -87.3), or where tanh's slope is subnormal.
    struct Bound {
        var value: Double, slope: Double, slopeAbsolute: Double, tail: Double
    }

    static let promised: [Activation: Bound] = [
        .geluTanh: Bound(value: 3, slope: 4, slopeAbsolute: 2.6e-7, tail: 7e-37),
        .silu: Bound(value: 2.5, slope: 4, slopeAbsolute: 2.3e-7, tail: 3e-37),
        .tanh: Bound(value: 1.1, slope: 3.5, slopeAbsolute: 2e-7, tail: 1e-44),
    ]

    /// The largest errors seen, in the units of `Bound`, and where.
    struct Worst: CustomStringConvertible {
        var value = 0.0, valueAt: Float = 0, slope = 0.0, slopeAt: Float = 0, slopeAbsolute = 0.0, tail = 0.0

        mutating func merge(_ other: Worst) {
            if other.value > value { (value, valueAt) = (other.value, other.valueAt) }
            if other.slope > slope { (slope, slopeAt) = (other.slope, other.slopeAt) }
            slopeAbsolute = max(slopeAbsolute, other.slopeAbsolute)
            tail = max(tail, other.tail)
        }

        func within(_ b: Bound) -> Bool {
            value <= b.value && slope <= b.slope && slopeAbsolute <= b.slopeAbsolute && tail <= b.tail
        }

        var description: String {
            String(format: "value %.3f at %.9g, slope %.3f at %.9g, slope absolute %.3g, tails %.3g",
                   value, Double(valueAt), slope, Double(slopeAt), slopeAbsolute, tail)
        }
    }

    /// Folds the errors of `value` and `slope` at `u` into `worst`. References in double: tanh from
    /// Foundation, its slope 1 / cosh^2; SiLU and the tanh GELU as u sigmoid(t) with sigmoid(t) and
    /// 1 - sigmoid(t) from Foundation's exp (0.5 u (1 + tanh k) would cancel in double too, by 1e-16 / (1 + tanh k)).
    static func accumulate(_ activation: Activation, _ u: Float, value: Float, slope: Float, into worst: inout Worst) {
        let x = Double(u)
        let valueError: Double, slopeError: Double, reference: (value: Double, slope: Double)
        switch activation {
        case .tanh:
            let cosh = Foundation.cosh(x)
            reference = (Foundation.tanh(x), 1 / (cosh * cosh))
            valueError = VectorMathTests.ulps(value, reference.value)
            if reference.slope >= Double(Float.leastNormalMagnitude) {
                slopeError = VectorMathTests.ulps(slope, reference.slope)
            } else {
                slopeError = 0
                worst.tail = max(worst.tail, abs(Double(slope) - reference.slope))
            }
        case .silu, .geluTanh:
            let gelu = activation == .geluTanh
            let k = 2 * (2 / Double.pi).squareRoot()
            let t = gelu ? k * (x + 0.044715 * x * x * x) : x
            let rate = gelu ? k * (1 + 3 * 0.044715 * x * x) : 1
            let s = 1 / (1 + Foundation.exp(-t)), c = 1 / (1 + Foundation.exp(t))
            reference = (x * s, s * (1 + x * c * rate))
            let growth = gelu ? 1 + abs(t) : 1
            if t < -88.72 {  // e^-t overflows in float: value 0
                valueError = 0
                worst.tail = max(worst.tail, abs(Double(value) - reference.value))
            } else {
                valueError = VectorMathTests.ulps(value, reference.value) / growth
            }
            if t < -87.3 {  // the sigmoid is subnormal in float
                slopeError = 0
                worst.tail = max(worst.tail, abs(Double(slope) - reference.slope))
            } else {
                let scale = s + abs(x * s * c * rate)
                slopeError = abs(Double(slope) - reference.slope) / (0x1p-24 * scale * growth)
            }
        case .gelu, .relu:
            preconditionFailure("VectorMathTests checks \(activation)")
        }
        if !(valueError <= worst.value) { (worst.value, worst.valueAt) = (valueError, u) }
        if !(slopeError <= worst.slope) { (worst.slope, worst.slopeAt) = (slopeError, u) }
        let absolute = abs(Double(slope) - reference.slope)
        if !(absolute <= worst.slopeAbsolute) { worst.slopeAbsolute = absolute }
    }

    /// The loop at `level` over `input`: values and slopes.
    static func loop(_ activation: Activation, _ input: [Float], level: VectorLevel) -> (value: [Float], slope: [Float]) {
        var value = [Float](repeating: 0, count: input.count), slope = value
        input.withUnsafeBufferPointer { i in
            value.withUnsafeMutableBufferPointer { v in
                slope.withUnsafeMutableBufferPointer { g in
                    VectorMath.activation(activation, i.baseAddress!, value: v.baseAddress!, slope: g.baseAddress!,
                                          count: i.count, level: level)
                }
            }
        }
        return (value, slope)
    }

    /// Every 1/64 in [-20, 20], a finer grid, seeded random values (normal and wide), tiny magnitudes
    /// of both signs and the points where the code switches form (tanh's polynomial ends at |u| = 1;
    /// e^-t overflows at t = -88.72, the sigmoid goes subnormal at t = -87.34; the tanh GELU's t
    /// reaches them near u = -10.05 and -9.96).
    static let inputs: [Float] = {
        var x = (-1280...1280).map { Float($0) / 64 }
        x += VectorMathTests.grid(-20, 20, step: 0.000_53)
        var rng = SeededGenerator(seed: 26)
        for _ in 0..<20_000 { x.append(4 * rng.normal()) }
        for _ in 0..<20_000 { x.append(Float.random(in: -120...120, using: &rng)) }
        for edge: Float in [1, 88.72, 87.34, 87.3, 10.05, 9.96, 43.6, 103.97] {
            var v = edge
            for _ in 0..<64 { v = v.nextDown }
            for _ in 0..<128 { x.append(v); x.append(-v); v = v.nextUp }
        }
        return x
    }()

    @Test("value and slope within the stated bounds on a dense sweep, at every level",
          arguments: [Activation.geluTanh, .silu, .tanh], VectorLevel.runnable(on: .current()))
    func sweep(activation: Activation, level: VectorLevel) throws {
        let bound = try #require(Self.promised[activation])
        let (values, slopes) = Self.loop(activation, Self.inputs, level: level)
        var worst = Worst()
        for (i, u) in Self.inputs.enumerated() {
            Self.accumulate(activation, u, value: values[i], slope: slopes[i], into: &worst)
        }
        print("\(activation.rawValue) at \(level): \(worst)")
        #expect(worst.within(bound), "\(activation.rawValue) at \(level): \(worst), bound \(bound)")
    }

    /// The figures VectorMath quotes. About a minute on two cores in a release build:
    /// `IDAMOE_EXHAUSTIVE=1 swift test -c release -Xswiftc -enable-testing --filter exhaustive`
    /// (a debug build takes over an hour).
    @Test("every float with 2^-14 <= |u| <= 128 and every 97th below, at every level (IDAMOE_EXHAUSTIVE=1)",
          .enabled(if: ProcessInfo.processInfo.environment["IDAMOE_EXHAUSTIVE"] == "1"),
          arguments: [Activation.geluTanh, .silu, .tanh], VectorLevel.runnable(on: .current()))
    func exhaustive(activation: Activation, level: VectorLevel) throws {
        let bound = try #require(Self.promised[activation])
        var worst = Worst()
        // Bit patterns of the magnitudes: every one from 2^-14 to 128, every 97th from the smallest subnormal.
        let dense = stride(from: Float(0x1p-14).bitPattern, through: Float(128).bitPattern, by: 1)
        let sparse = stride(from: UInt32(1), to: Float(0x1p-14).bitPattern, by: 97)
        let chunk = 1 << 16
        var input = [Float]()
        input.reserveCapacity(chunk)
        func flush() {
            for sign: Float in [1, -1] {
                let signed = input.map { sign * $0 }
                let (values, slopes) = Self.loop(activation, signed, level: level)
                for i in signed.indices {
                    Self.accumulate(activation, signed[i], value: values[i], slope: slopes[i], into: &worst)
                }
            }
            input.removeAll(keepingCapacity: true)
        }
        for bits in sparse { input.append(Float(bitPattern: bits)); if input.count == chunk { flush() } }
        for bits in dense { input.append(Float(bitPattern: bits)); if input.count == chunk { flush() } }
        flush()
        print("exhaustive \(activation.rawValue) at \(level): \(worst)")
        #expect(worst.within(bound), "\(activation.rawValue) at \(level): \(worst), bound \(bound)")
    }

    @Test("infinities, NaN, zeros, huge and overflowing inputs give the documented values at every level",
          arguments: VectorLevel.runnable(on: .current()))
    func specialValues(level: VectorLevel) {
        let input: [Float] = [.infinity, -.infinity, .nan, 0, -0.0, 1e30, -1e30, .greatestFiniteMagnitude,
                              -.greatestFiniteMagnitude, -103.98, -200, 200]
        for activation in [Activation.geluTanh, .silu, .tanh] {
            let (v, s) = Self.loop(activation, input, level: level)
            let name = "\(activation.rawValue) at \(level)"
            #expect(v[2].isNaN && s[2].isNaN, "\(name): NaN gives \(v[2]), \(s[2])")
            #expect(v.indices.allSatisfy { $0 == 2 || !v[$0].isNaN && s[$0].isFinite }, "\(name): values \(v), slopes \(s)")
            switch activation {
            case .tanh:
                #expect(v[0] == 1 && s[0] == 0 && v[1] == -1 && s[1] == 0, "\(name): \(v), \(s)")
                #expect(v[3] == 0 && v[3].sign == .plus && s[3] == 1 && v[4] == 0 && v[4].sign == .minus && s[4] == 1)
                #expect(v[5] == 1 && v[6] == -1 && v[7] == 1 && v[8] == -1 && s[5] == 0 && s[6] == 0)
                #expect(v[9] == -1 && v[10] == -1 && v[11] == 1 && s[9] == 0 && s[11] == 0)
            default:
                // f(+inf) = (+inf, 1), f(-inf) = (0, 0), f(0) = (0, 1/2), f(1e30) = (1e30, 1), f(-1e30) = (0, 0).
                #expect(v[0] == .infinity && s[0] == 1 && v[1] == 0 && s[1] == 0, "\(name): \(v), \(s)")
                #expect(v[3] == 0 && s[3] == 0.5 && v[4] == 0 && s[4] == 0.5, "\(name): \(v), \(s)")
                #expect(v[5] == 1e30 && s[5] == 1 && v[6] == 0 && s[6] == 0, "\(name): \(v), \(s)")
                #expect(v[7] == .greatestFiniteMagnitude && s[7] == 1 && v[8] == 0 && s[8] == 0, "\(name): \(v), \(s)")
                #expect(v[9] == 0 && s[9] == 0 && v[10] == 0 && s[10] == 0 && v[11] == 200 && s[11] == 1, "\(name): \(v), \(s)")
            }
        }
    }

    @Test("a value's bits do not depend on its place in a buffer, on in-place use or on asking for slopes, at every level",
          arguments: Activation.allCases, VectorLevel.runnable(on: .current()))
    func positionIndependent(activation: Activation, level: VectorLevel) {
        // 37 values over both forms of tanh: whole vectors at every width plus a tail done one at a time.
        let input = (0..<37).map { Float($0) * 0.37 - 6.1 }
        let (value, slope) = Self.loop(activation, input, level: level)
        for i in input.indices {
            let alone = Self.loop(activation, [input[i]], level: level)
            #expect(value[i].bitPattern == alone.value[0].bitPattern && slope[i].bitPattern == alone.slope[0].bitPattern,
                    "\(activation.rawValue): element \(i) at \(level)")
        }
        var inPlace = input, inPlaceSlope = [Float](repeating: 0, count: input.count)
        inPlace.withUnsafeMutableBufferPointer { v in
            inPlaceSlope.withUnsafeMutableBufferPointer { g in
                VectorMath.activation(activation, v.baseAddress!, value: v.baseAddress!, slope: g.baseAddress!,
                                      count: v.count, level: level)
            }
        }
        #expect(inPlace.map(\.bitPattern) == value.map(\.bitPattern) && inPlaceSlope.map(\.bitPattern) == slope.map(\.bitPattern))
        var valueOnly = input
        valueOnly.withUnsafeMutableBufferPointer { v in
            VectorMath.activation(activation, v.baseAddress!, value: v.baseAddress!, slope: nil, count: v.count, level: level)
        }
        #expect(valueOnly.map(\.bitPattern) == value.map(\.bitPattern), "\(activation.rawValue) at \(level): values without slopes")
    }

    @Test("the generic loop gives the single-value functions' bits; Activation's buffer paths are the loop's",
          arguments: Activation.allCases)
    func pathsAgree(activation: Activation) {
        let input = (0..<37).map { Float($0) * 0.37 - 6.1 } + [.infinity, -.infinity, 0, -1e30, 1e30]
        let generic = Self.loop(activation, input, level: .generic)
        for i in input.indices {
            let (v, s) = activation.valueAndDerivative(input[i])
            #expect(generic.value[i].bitPattern == v.bitPattern && generic.slope[i].bitPattern == s.bitPattern,
                    "\(activation.rawValue): element \(i): \(generic.value[i]), \(generic.slope[i]) vs \(v), \(s)")
            #expect(activation.apply(input[i]).bitPattern == v.bitPattern && activation.derivative(input[i]).bitPattern == s.bitPattern)
        }
        let expected = Self.loop(activation, input, level: VectorMath.level)
        var value = [Float](repeating: 0, count: input.count), slope = value
        activation.forward(input, into: &value, slope: &slope)
        #expect(value == expected.value && slope == expected.slope)
        var valueOnly = [Float](repeating: 0, count: input.count)
        activation.forward(input, into: &valueOnly)
        #expect(valueOnly == expected.value)
        var inPlace = input, inPlaceSlope = [Float](repeating: 0, count: input.count)
        activation.forwardInPlace(&inPlace, slope: &inPlaceSlope)
        #expect(inPlace == expected.value && inPlaceSlope == expected.slope)
        var applied = input
        activation.applyInPlace(&applied)
        #expect(applied == expected.value)
        // backward multiplies by the loop's slopes, over more than one 512-value block.
        let long = (0..<1_200).map { Float($0) * 0.01 - 6 }
        var grad = [Float](repeating: 2, count: long.count)
        activation.backward(preActivation: long, grad: &grad)
        #expect(grad == Self.loop(activation, long, level: VectorMath.level).slope.map { 2 * $0 })
    }
}
