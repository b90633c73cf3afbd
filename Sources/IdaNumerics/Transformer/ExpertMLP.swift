import Foundation

/// One expert's feed-forward network: GELU (up [F, D], GELU, down [D, F]) or SwiGLU
/// (up [2F, D] giving gate | value, silu(gate) * value, down [D, F]; Shazeer 2020).
public struct ExpertMLP: Sendable, Equatable {
    /// The two feed-forward variants.
    public enum Kind: String, Sendable, CaseIterable {
        /// down(gelu(up x)), exact erf GELU.
        case gelu
        /// down(silu(gate) * value) with [gate | value] = up x.
        case swiglu
    }

    /// Which variant this expert is.
    public var kind: Kind
    /// Input projection: [F, D] for GELU, [2F, D] for SwiGLU (rows 0..<F gate, F..<2F value).
    public var up: Linear
    /// Output projection [D, F].
    public var down: Linear

    /// What `backward` needs from `forward`.
    public struct Cache: Sendable {
        /// The expert input x [n, D].
        public var input: Matrix
        /// The output of `up` [n, F] (GELU) or [n, 2F] (SwiGLU).
        public var preActivation: Matrix
        /// The input of `down` [n, F].
        public var hidden: Matrix
        /// GELU'(preActivation) [n, F] for GELU experts; for SwiGLU, [SiLU'(g) | SiLU(g)] [2, n, F] of
        /// the gate half g.
        public var slope: [Float] = []
    }

    /// An expert over existing projections; widths must agree with `kind`.
    public init(kind: Kind, up: Linear, down: Linear) {
        let f = down.inputs
        precondition(up.inputs == down.outputs, "expert up/down widths disagree")
        precondition(up.outputs == (kind == .swiglu ? 2 * f : f), "expert up has \(up.outputs) outputs for \(kind) with F = \(f)")
        self.kind = kind
        self.up = up
        self.down = down
    }

    /// A freshly initialised expert of width D and hidden width F; `bias` defaults to true for GELU
    /// (GPT-2) and false for SwiGLU (LLaMA).
    public init(kind: Kind, width: Int, hidden: Int, bias: Bool? = nil, rng: inout SeededGenerator) {
        let useBias = bias ?? (kind == .gelu)
        let upWidth = kind == .swiglu ? 2 * hidden : hidden
        self.init(kind: kind,
                  up: Linear(inputs: width, outputs: upWidth, bias: useBias, rng: &rng),
                  down: Linear(inputs: hidden, outputs: width, bias: useBias, rng: &rng))
    }

    /// Model width D.
    public var width: Int { down.outputs }
    /// Hidden width F.
    public var hidden: Int { down.inputs }

    /// y [n, D] for x [n, D] (on `context`'s workers: a dense block's feed-forward; experts run
    /// side by side, each serially).
    public func forward(_ x: Matrix, context: NumericContext = .serial) -> (Matrix, Cache) {
        let pre = up.forward(x, context: context)
        let n = x.rows, f = hidden
        var h = Matrix(uninitializedRows: n, cols: f)  // every element is written below
        var slope: [Float] = []
        switch kind {
        case .gelu:
            slope = [Float].uninitialized(n * f)
            Activation.gelu.forward(pre.data, into: &h.data, slope: &slope, context: context)
        case .swiglu:
            // SiLU of the gate half through the vectorised loops (value and slope), then times the value half.
            var gates = [Float].uninitialized(n * f)
            for r in 0..<n { for c in 0..<f { gates[r * f + c] = pre.data[r * 2 * f + c] } }
            // h holds SiLU(g) until it is multiplied by the value half; the slope keeps SiLU'(g) | SiLU(g).
            slope = [Float].uninitialized(n * f)
            slope.reserveCapacity(2 * n * f)
            Activation.silu.forward(gates, into: &h.data, slope: &slope, context: context)
            slope.append(contentsOf: h.data)
            for r in 0..<n {
                let value = r * 2 * f + f
                for c in 0..<f { h.data[r * f + c] *= pre.data[value + c] }
            }
        }
        return (down.forward(h, context: context), Cache(input: x, preActivation: pre, hidden: h, slope: slope))
    }

    /// dx [n, D] for dy [n, D]; accumulates the gradients of `up` and `down`.
    public mutating func backward(_ dy: Matrix, cache: Cache, context: NumericContext = .serial) -> Matrix {
        let n = dy.rows, f = hidden
        var dh = down.backward(dy, input: cache.hidden, context: context) ?? Matrix(rows: n, cols: f)
        var dPre: Matrix
        switch kind {
        case .gelu:
            Activation.multiply(&dh.data, bySlope: cache.slope, context: context)
            dPre = dh
        case .swiglu:
            // h = silu(g) v: dg = dh v silu'(g), dv = dh silu(g), both kept by the forward pass.
            dPre = Matrix(uninitializedRows: n, cols: 2 * f)  // every element is written below
            cache.preActivation.data.withUnsafeBufferPointer { pp in
                dh.data.withUnsafeBufferPointer { pdh in
                    cache.slope.withUnsafeBufferPointer { ps in
                        dPre.data.withUnsafeMutableBufferPointer { pd in
                            for r in 0..<n {
                                let gate = r * 2 * f, value = gate + f
                                for c in 0..<f {
                                    let grad = pdh[r * f + c], i = r * f + c
                                    pd[gate + c] = grad * pp[value + c] * ps[i]
                                    pd[value + c] = grad * ps[n * f + i]
                                }
                            }
                        }
                    }
                }
            }
        }
        return up.backward(dPre, input: cache.input, context: context) ?? Matrix(rows: n, cols: width)
    }

    /// Sets the gradients of both projections to zero.
    public mutating func zeroGrad() {
        up.zeroGrad()
        down.zeroGrad()
    }

    /// Visits `prefix.up.*` and `prefix.down.*` (weight, and bias when present).
    public mutating func visitParameters(prefix: String, _ body: ParameterVisitor) {
        up.visitParameters(prefix: "\(prefix).up", body)
        down.visitParameters(prefix: "\(prefix).down", body)
    }
}
