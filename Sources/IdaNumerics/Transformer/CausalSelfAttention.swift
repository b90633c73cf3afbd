/// Multi-head causal self-attention with a fused QKV projection (GPT-2 layout).
///
/// softmax(Q K^T / sqrt(hd) + causal mask) V per head, heads concatenated, then `proj`
/// (Vaswani et al. 2017, eq. 1; Radford et al. 2019).
///
/// The (batch, head) pairs run on the workers of the `NumericContext` passed in (OpenBLAS is
/// single-threaded); no process-wide state is read or changed.
public struct CausalSelfAttention: Sendable, Equatable {
    /// Fused projection [3D, D] with bias [3D]; output columns are Q | K | V, head h at h*hd..<(h+1)*hd of each.
    public var qkv: Linear
    /// Output projection [D, D] with bias [D].
    public var proj: Linear
    /// Number of heads H; D is a multiple of H.
    public var heads: Int
    /// Query rows per GEMM in the causal kernels (tuning only: any value >= 1 gives the same result).
    public var causalBlock: Int = 32

    /// What `backward` needs from `forward`.
    public struct Cache: Sendable {
        /// Batch B.
        public var batch: Int
        /// Time T.
        public var time: Int
        /// The layer input x [B*T, D].
        public var input: Matrix
        /// The fused projection output [B*T, 3D] (Q | K | V).
        public var qkv: Matrix
        /// Attention probabilities [B, H, T, T]; the strict upper triangle of each [T, T] block is zero.
        public var probabilities: [Float]
        /// Concatenated head outputs [B*T, D], the input of `proj`.
        public var attended: Matrix
    }

    /// Attention over existing projections: qkv [3D, D], proj [D, D].
    public init(qkv: Linear, proj: Linear, heads: Int) {
        precondition(heads >= 1 && proj.outputs % heads == 0, "width \(proj.outputs) is not a multiple of \(heads) heads")
        precondition(proj.inputs == proj.outputs && qkv.inputs == proj.outputs && qkv.outputs == 3 * proj.outputs,
                     "qkv must be [3D, D] and proj [D, D]")
        self.qkv = qkv
        self.proj = proj
        self.heads = heads
    }

    /// Freshly initialised attention of width D (PyTorch's default Linear initialisation, zero biases).
    public init(width: Int, heads: Int, rng: inout SeededGenerator) {
        self.init(qkv: Linear(inputs: width, outputs: 3 * width, rng: &rng),
                  proj: Linear(inputs: width, outputs: width, rng: &rng), heads: heads)
    }

    /// Model width D.
    public var width: Int { proj.outputs }
    /// Head width hd = D / H.
    public var headWidth: Int { width / heads }

    /// y [B*T, D] for x [B*T, D] (token (b, t) at row b*T + t); position t attends to positions <= t.
    public func forward(_ x: Matrix, batch: Int, time: Int, context: NumericContext = .serial) -> (Matrix, Cache) {
        precondition(x.rows == batch * time && x.cols == width,
                     "attention input is [\(x.rows),\(x.cols)], needs [\(batch * time),\(width)]")
        let fused = qkv.forward(x, context: context)
        // Every element is written by the kernels (the masked upper triangle as 0), so skip the zero fill.
        let count = batch * heads * time * time
        var probabilities = [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
        var attended = Matrix(uninitializedRows: batch * time, cols: width)  // each head's rows are written (beta 0)
        attentionForward(qkv: fused, batch: batch, time: time, probabilities: &probabilities, into: &attended,
                         context: context)
        let y = proj.forward(attended, context: context)
        return (y, Cache(batch: batch, time: time, input: x, qkv: fused,
                         probabilities: probabilities, attended: attended))
    }

    /// dx [B*T, D] for dy [B*T, D]; accumulates the gradients of `qkv` and `proj`.
    public mutating func backward(_ dy: Matrix, cache: Cache, context: NumericContext = .serial) -> Matrix {
        precondition(dy.rows == cache.batch * cache.time && dy.cols == width, "attention gradient shape mismatch")
        let dAttended = proj.backward(dy, input: cache.attended, context: context) ?? Matrix(rows: dy.rows, cols: width)
        var dqkv = Matrix(uninitializedRows: dy.rows, cols: 3 * width)  // dQ, dK and dV are written whole (beta 0)
        attentionBackward(dAttended, cache: cache, into: &dqkv, context: context)
        return qkv.backward(dqkv, input: cache.input, context: context) ?? Matrix(rows: dy.rows, cols: width)
    }

    /// Sets the gradients of both projections to zero.
    public mutating func zeroGrad() {
        qkv.zeroGrad()
        proj.zeroGrad()
    }

    /// Visits `prefix.qkv.weight` [3D, D], `prefix.qkv.bias` [3D], `prefix.proj.weight` [D, D], `prefix.proj.bias` [D].
    public mutating func visitParameters(prefix: String, _ body: ParameterVisitor) {
        qkv.visitParameters(prefix: "\(prefix).qkv", body)
        proj.visitParameters(prefix: "\(prefix).proj", body)
    }
}
