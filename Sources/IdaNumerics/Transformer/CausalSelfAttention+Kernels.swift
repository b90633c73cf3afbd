import Dispatch
import Foundation
import IdaBLAS

/// The per-(batch, head) attention kernels: strided GEMMs straight on the fused QKV buffer
/// (leading dimension 3D, no copies of Q, K or V), computed in row blocks so that blocks
/// right of the diagonal, which the causal mask zeroes, are never multiplied. The B*H pairs are
/// independent and write disjoint memory, so they are split into contiguous ranges over
/// the context's workers, each running single-threaded GEMMs; results do not depend on the split.
extension CausalSelfAttention {
    /// Fills `probabilities` [B, H, T, T] and the concatenated head outputs `attended` [B*T, D].
    func attentionForward(qkv fused: Matrix, batch: Int, time: Int,
                          probabilities: inout [Float], into attended: inout Matrix, context: NumericContext) {
        let shape = Shape(time: time, width: width, heads: heads, block: causalBlock)
        fused.data.withUnsafeBufferPointer { pq in
            probabilities.withUnsafeMutableBufferPointer { pp in
                attended.data.withUnsafeMutableBufferPointer { po in
                    guard let base = pq.baseAddress, let probs = pp.baseAddress, let out = po.baseAddress else { return }
                    let buffers = ForwardBuffers(qkv: base, probabilities: probs, attended: out)
                    Self.forEachPairRange(batch * heads, context: context) { pairs in
                        for pair in pairs {
                            Self.forwardPair(pair, shape, qkv: buffers.qkv, probabilities: buffers.probabilities,
                                             out: buffers.attended)
                        }
                    }
                }
            }
        }
    }

    /// Writes dQ | dK | dV into `dqkv` [B*T, 3D] from the gradient of the head outputs `dAttended` [B*T, D].
    ///
    /// dP = dO V^T, dS = P * (dP - rowsum(P * dP)) (softmax backward), dQ = dS K / sqrt(hd),
    /// dK = dS^T Q / sqrt(hd), dV = P^T dO.
    func attentionBackward(_ dAttended: Matrix, cache: Cache, into dqkv: inout Matrix, context: NumericContext) {
        let shape = Shape(time: cache.time, width: width, heads: heads, block: causalBlock)
        cache.qkv.data.withUnsafeBufferPointer { pq in
            cache.probabilities.withUnsafeBufferPointer { pp in
                dAttended.data.withUnsafeBufferPointer { pdo in
                    dqkv.data.withUnsafeMutableBufferPointer { pdq in
                        guard let base = pq.baseAddress, let probs = pp.baseAddress, let dOut = pdo.baseAddress,
                              let dBase = pdq.baseAddress else { return }
                        let buffers = BackwardBuffers(qkv: base, probabilities: probs, dAttended: dOut, dqkv: dBase)
                        Self.forEachPairRange(cache.batch * heads, context: context) { pairs in
                            // dP, then dS, of one (batch, head) [T, T]; one buffer per worker.
                            var scratch = [Float](repeating: 0, count: shape.t * shape.t)
                            scratch.withUnsafeMutableBufferPointer { ps in
                                guard let s = ps.baseAddress else { return }
                                for pair in pairs {
                                    Self.backwardPair(pair, shape, qkv: buffers.qkv, probabilities: buffers.probabilities,
                                                      dAttended: buffers.dAttended, scratch: s, dqkv: buffers.dqkv)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The buffers of one forward call, handed to the workers. Unchecked Sendable: they outlive the
    /// call, `qkv` is only read, and each (batch, head) pair writes disjoint parts of the outputs.
    struct ForwardBuffers: @unchecked Sendable {
        /// The fused Q | K | V [B*T, 3D].
        var qkv: UnsafePointer<Float>
        /// Attention probabilities [B, H, T, T] (written).
        var probabilities: UnsafeMutablePointer<Float>
        /// Concatenated head outputs [B*T, D] (written).
        var attended: UnsafeMutablePointer<Float>
    }

    /// The buffers of one backward call; unchecked Sendable for the same reasons as `ForwardBuffers`.
    struct BackwardBuffers: @unchecked Sendable {
        /// The fused Q | K | V [B*T, 3D].
        var qkv: UnsafePointer<Float>
        /// Attention probabilities [B, H, T, T].
        var probabilities: UnsafePointer<Float>
        /// Gradient of the head outputs [B*T, D].
        var dAttended: UnsafePointer<Float>
        /// dQ | dK | dV [B*T, 3D] (written).
        var dqkv: UnsafeMutablePointer<Float>
    }

    /// Sizes shared by the kernels of one call.
    struct Shape: Sendable {
        /// Time T.
        var t: Int
        /// Model width D.
        var d: Int
        /// Heads H.
        var h: Int
        /// Head width hd.
        var hd: Int
        /// Leading dimension of the fused buffer, 3D.
        var ld: Int
        /// Rows per GEMM block.
        var block: Int
        /// 1 / sqrt(hd).
        var scale: Float

        init(time: Int, width: Int, heads: Int, block: Int) {
            t = time
            d = width
            h = heads
            hd = width / heads
            ld = 3 * width
            self.block = max(1, block)
            scale = 1 / Float(hd).squareRoot()
        }
    }

    /// Runs `body` on contiguous ranges covering 0..<count, one per worker of `context` (OpenBLAS is
    /// single-threaded, so each worker's GEMMs run on that worker).
    static func forEachPairRange(_ count: Int, context: NumericContext, _ body: @Sendable (Range<Int>) -> Void) {
        let workers = min(count, context.threads)
        if workers <= 1 {
            body(0..<count)
            return
        }
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            body((count * w / workers)..<(count * (w + 1) / workers))
        }
    }

    /// Scores, masked softmax and P V for one (batch, head) pair.
    static func forwardPair(_ pair: Int, _ s: Shape, qkv base: UnsafePointer<Float>,
                            probabilities: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
        let t = s.t, d = s.d, ld = s.ld, hd = s.hd
        let b = pair / s.h, head = pair % s.h
        let q = base + b * t * ld + head * hd
        let k = q + d, v = q + 2 * d
        let p = probabilities + pair * t * t
        let o = out + b * t * d + head * hd
        var r0 = 0
        while r0 < t {
            let r1 = min(t, r0 + s.block)
            // S[r0..<r1, 0..<r1] = Q K^T / sqrt(hd); columns >= r1 are masked for these rows.
            BLAS.sgemm(transA: false, transB: true, m: r1 - r0, n: r1, k: hd, alpha: s.scale,
                       a: q + r0 * ld, lda: ld, b: k, ldb: ld, beta: 0, c: p + r0 * t, ldc: t)
            for i in r0..<r1 { maskedSoftmaxRow(p + i * t, valid: i + 1, end: t) }
            // O[r0..<r1] = P[r0..<r1, 0..<r1] V[0..<r1]
            BLAS.sgemm(transA: false, transB: false, m: r1 - r0, n: hd, k: r1, alpha: 1,
                       a: p + r0 * t, lda: t, b: v, ldb: ld, beta: 0, c: o + r0 * d, ldc: d)
            r0 = r1
        }
    }

    /// dQ, dK and dV of one (batch, head) pair, using `scratch` [T, T] for dP and dS.
    static func backwardPair(_ pair: Int, _ s: Shape, qkv base: UnsafePointer<Float>,
                             probabilities: UnsafePointer<Float>, dAttended: UnsafePointer<Float>,
                             scratch: UnsafeMutablePointer<Float>, dqkv: UnsafeMutablePointer<Float>) {
        let t = s.t, d = s.d, ld = s.ld, hd = s.hd
        let b = pair / s.h, head = pair % s.h
        let q = base + b * t * ld + head * hd
        let k = q + d, v = q + 2 * d
        let dq = dqkv + b * t * ld + head * hd
        let dk = dq + d, dv = dq + 2 * d
        let p = probabilities + pair * t * t
        let dO = dAttended + b * t * d + head * hd
        var r0 = 0
        while r0 < t {
            let r1 = min(t, r0 + s.block)
            // dP[r0..<r1, 0..<r1] = dO[r0..<r1] V[0..<r1]^T
            BLAS.sgemm(transA: false, transB: true, m: r1 - r0, n: r1, k: hd, alpha: 1,
                       a: dO + r0 * d, lda: d, b: v, ldb: ld, beta: 0, c: scratch + r0 * t, ldc: t)
            for i in r0..<r1 { softmaxBackwardRow(p + i * t, scratch + i * t, valid: i + 1, end: r1) }
            // dQ[r0..<r1] = dS[r0..<r1, 0..<r1] K[0..<r1] / sqrt(hd)
            BLAS.sgemm(transA: false, transB: false, m: r1 - r0, n: hd, k: r1, alpha: s.scale,
                       a: scratch + r0 * t, lda: t, b: k, ldb: ld, beta: 0, c: dq + r0 * ld, ldc: ld)
            r0 = r1
        }
        var c0 = 0
        while c0 < t {
            let c1 = min(t, c0 + s.block)
            // Keys c0..<c1 are seen only by queries c0..<T.
            // dK[c0..<c1] = dS[c0..<T, c0..<c1]^T Q[c0..<T] / sqrt(hd)
            BLAS.sgemm(transA: true, transB: false, m: c1 - c0, n: hd, k: t - c0, alpha: s.scale,
                       a: scratch + c0 * t + c0, lda: t, b: q + c0 * ld, ldb: ld,
                       beta: 0, c: dk + c0 * ld, ldc: ld)
            // dV[c0..<c1] = P[c0..<T, c0..<c1]^T dO[c0..<T]
            BLAS.sgemm(transA: true, transB: false, m: c1 - c0, n: hd, k: t - c0, alpha: 1,
                       a: p + c0 * t + c0, lda: t, b: dO + c0 * d, ldb: d,
                       beta: 0, c: dv + c0 * ld, ldc: ld)
            c0 = c1
        }
    }

    /// Softmax over row[0..<valid] in place; the masked row[valid..<end] is set to 0.
    @inline(__always)
    static func maskedSoftmaxRow(_ row: UnsafeMutablePointer<Float>, valid: Int, end: Int) {
        var peak = -Float.infinity
        for j in 0..<valid { peak = max(peak, row[j]) }
        // Vectorised exp, then a fixed-order sum of eight partial sums.
        VectorMath.expShifted(row, into: row, shift: peak, count: valid)
        let inv = 1 / Elementwise.sum(UnsafePointer(row), valid)
        for j in 0..<valid { row[j] *= inv }
        for j in valid..<end { row[j] = 0 }
    }

    /// grad[j] = p[j] (grad[j] - sum_l p[l] grad[l]) over 0..<valid; grad[valid..<end] set to 0.
    @inline(__always)
    static func softmaxBackwardRow(_ p: UnsafePointer<Float>, _ grad: UnsafeMutablePointer<Float>,
                                   valid: Int, end: Int) {
        let dot = Elementwise.dot(p, UnsafePointer(grad), valid)
        for j in 0..<valid { grad[j] = p[j] * (grad[j] - dot) }
        for j in valid..<end { grad[j] = 0 }
    }
}
