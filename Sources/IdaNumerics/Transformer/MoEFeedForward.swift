import Synchronization
import Dispatch
import IdaBLAS

/// A sparse mixture of expert MLPs: y_n = sum_j weights[n, j] * expert_{selected[n, j]}(x_n).
///
/// Each expert runs once per batch on its tokens gathered into a contiguous matrix (a counting sort
/// of the N*k assignments by expert, stable in token order, so results do not depend on timing).
public struct MoEFeedForward: Sendable, Equatable {
    /// The experts [E].
    public var experts: [ExpertMLP]

    /// What `backward` needs from `forward`.
    public struct Cache: Sendable {
        /// Tokens N.
        public var tokens: Int
        /// Experts per token k.
        public var topK: Int
        /// Assignments routed to each expert [E] (tokens per expert).
        public var counts: [Int]
        /// Where each expert's run starts in `order` [E + 1].
        public var offsets: [Int]
        /// Assignment indices n*k + j grouped by expert, token order within each group [N*k].
        public var order: [Int32]
        /// Gate weights [N, k].
        public var weights: [Float]
        /// Each expert's cache, nil for an expert that received no tokens [E].
        public var expertCaches: [ExpertMLP.Cache?]
        /// Each expert's unweighted output on its tokens [n_e, D], in `order` [E].
        public var expertOutputs: [Matrix]
    }

    /// A layer over existing experts (all of the same width D).
    public init(experts: [ExpertMLP]) {
        precondition(!experts.isEmpty, "a mixture needs at least one expert")
        precondition(experts.allSatisfy { $0.width == experts[0].width }, "experts differ in width")
        self.experts = experts
    }

    /// E freshly initialised experts of one kind.
    public init(count: Int, kind: ExpertMLP.Kind, width: Int, hidden: Int, rng: inout SeededGenerator) {
        var list: [ExpertMLP] = []
        for _ in 0..<count { list.append(ExpertMLP(kind: kind, width: width, hidden: hidden, rng: &rng)) }
        self.init(experts: list)
    }

    /// Model width D.
    public var width: Int { experts[0].width }

    /// y [N, D] for x [N, D], expert ids `selected` [N, k] and gate `weights` [N, k].
    /// Experts run side by side on `context`'s workers.
    public func forward(_ x: Matrix, selected: [Int32], weights: [Float], topK: Int,
                        context: NumericContext = .serial) -> (Matrix, Cache) {
        let n = x.rows, d = width, k = topK, e = experts.count
        precondition(x.cols == d, "mixture expects width \(d), got \(x.cols)")
        precondition(selected.count == n * k && weights.count == n * k, "selected and weights must be [N, k]")
        // Counting sort of the assignments by expert; stable, so each group is in token order.
        var counts = [Int](repeating: 0, count: e)
        for s in selected {
            precondition(s >= 0 && Int(s) < e, "expert id \(s) outside 0..<\(e)")
            counts[Int(s)] += 1
        }
        var offsets = [Int](repeating: 0, count: e + 1)
        for i in 0..<e { offsets[i + 1] = offsets[i] + counts[i] }
        var cursor = offsets
        var order = [Int32](repeating: 0, count: n * k)
        for (a, s) in selected.enumerated() {
            order[cursor[Int(s)]] = Int32(a)
            cursor[Int(s)] += 1
        }
        // The experts run in parallel (each on its own tokens, single-threaded GEMMs); the weighted
        // sums into y are then added in expert order, so y does not depend on which thread ran what.
        var caches = [ExpertMLP.Cache?](repeating: nil, count: e)
        var outputs = [Matrix](repeating: Matrix(rows: 0, cols: d), count: e)
        caches.withUnsafeMutableBufferPointer { pc in
            outputs.withUnsafeMutableBufferPointer { po in
                let slots = ExpertSlots(caches: pc, outputs: po)
                let order = order, offsets = offsets
                Self.forEachExpert(counts, context: context) { i in
                    let run = order[offsets[i]..<offsets[i + 1]]
                    let (out, cache) = experts[i].forward(Self.gather(x, rows: run, topK: k))
                    slots.caches[i] = cache
                    slots.outputs[i] = out
                }
            }
        }
        var y = Matrix(rows: n, cols: d)
        for i in 0..<e where counts[i] > 0 {
            let run = order[offsets[i]..<offsets[i + 1]]
            y.data.withUnsafeMutableBufferPointer { py in
                outputs[i].data.withUnsafeBufferPointer { po in
                    weights.withUnsafeBufferPointer { pw in
                        guard let yBase = py.baseAddress, let outBase = po.baseAddress else { return }
                        for (r, a) in run.enumerated() {
                            Elementwise.add(pw[Int(a)], times: outBase + r * d, into: yBase + (Int(a) / k) * d, d)
                        }
                    }
                }
            }
        }
        return (y, Cache(tokens: n, topK: k, counts: counts, offsets: offsets, order: order, weights: weights,
                         expertCaches: caches, expertOutputs: outputs))
    }

    /// dx [N, D] and dWeights [N, k] (dy_n . expert output, for a router trained through its gates)
    /// for dy [N, D]; accumulates every expert's gradients.
    public mutating func backward(_ dy: Matrix, cache: Cache, context: NumericContext = .serial) -> (dx: Matrix, dWeights: [Float]) {
        let n = cache.tokens, k = cache.topK, d = width
        precondition(dy.rows == n && dy.cols == d, "mixture gradient shape mismatch")
        var dWeights = [Float](repeating: 0, count: n * k)
        var inputGradients = [Matrix](repeating: Matrix(rows: 0, cols: d), count: experts.count)
        // Each expert's backward in parallel: it reads dy, writes its own assignments' dWeights and its
        // own gradients; the input gradients are added into dx in expert order afterwards.
        experts.withUnsafeMutableBufferPointer { pe in
            dWeights.withUnsafeMutableBufferPointer { pdw in
                inputGradients.withUnsafeMutableBufferPointer { pg in
                    let slots = BackwardSlots(experts: pe, dWeights: pdw, inputGradients: pg)
                    Self.forEachExpert(cache.counts, context: context) { i in
                        guard let expertCache = cache.expertCaches[i] else { return }
                        let run = cache.order[cache.offsets[i]..<cache.offsets[i + 1]]
                        let dOut = Self.gateGradient(dy, output: cache.expertOutputs[i], run: run, weights: cache.weights,
                                                     topK: k, dWeights: slots.dWeights)
                        slots.inputGradients[i] = slots.experts[i].backward(dOut, cache: expertCache)
                    }
                }
            }
        }
        var dx = Matrix(rows: n, cols: d)
        for i in experts.indices where cache.counts[i] > 0 {
            let run = cache.order[cache.offsets[i]..<cache.offsets[i + 1]]
            dx.data.withUnsafeMutableBufferPointer { px in
                inputGradients[i].data.withUnsafeBufferPointer { pe in
                    guard let dxBase = px.baseAddress, let expertBase = pe.baseAddress else { return }
                    for (r, a) in run.enumerated() {
                        Elementwise.add(expertBase + r * d, into: dxBase + (Int(a) / k) * d, d)
                    }
                }
            }
        }
        return (dx, dWeights)
    }

    /// Sets every expert's gradients to zero.
    public mutating func zeroGrad() {
        for i in experts.indices { experts[i].zeroGrad() }
    }

    /// Visits `prefix.experts.{e}.up.*` and `prefix.experts.{e}.down.*` for every expert e.
    public mutating func visitParameters(prefix: String, _ body: ParameterVisitor) {
        for i in experts.indices { experts[i].visitParameters(prefix: "\(prefix).experts.\(i)", body) }
    }

    /// The gradient of one expert's unweighted output, dOut [n_e, D] = w * dy rows, and
    /// dWeights[a] = dy_n . output row for each of its assignments a.
    static func gateGradient(_ dy: Matrix, output out: Matrix, run: ArraySlice<Int32>, weights: [Float], topK k: Int,
                             dWeights: UnsafeMutableBufferPointer<Float>) -> Matrix {
        let d = dy.cols
        var dOut = Matrix(uninitializedRows: run.count, cols: d)  // every row is written below
        dy.data.withUnsafeBufferPointer { pdy in
            out.data.withUnsafeBufferPointer { po in
                dOut.data.withUnsafeMutableBufferPointer { pd in
                    weights.withUnsafeBufferPointer { pw in
                        guard let dyBase = pdy.baseAddress, let outBase = po.baseAddress,
                              let dOutBase = pd.baseAddress else { return }
                        for (r, a) in run.enumerated() {
                            let w = pw[Int(a)], source = dyBase + (Int(a) / k) * d, row = dOutBase + r * d
                            dWeights[Int(a)] = Elementwise.dot(source, outBase + r * d, d)
                            for c in 0..<d { row[c] = w * source[c] }
                        }
                    }
                }
            }
        }
        return dOut
    }

    /// Calls `body` once for every expert with tokens, on the workers of `context` (OpenBLAS is
    /// single-threaded, so each expert's GEMMs run on its worker). Experts are handed out in index
    /// order as workers free up; each expert's work is the same whichever worker runs it, so results
    /// do not depend on the split.
    static func forEachExpert(_ counts: [Int], context: NumericContext, _ body: @Sendable (Int) -> Void) {
        let active = counts.indices.filter { counts[$0] > 0 }
        guard context.threads > 1, active.count > 1 else {
            for i in active { body(i) }
            return
        }
        // Workers take the next expert as they free up (experts' loads differ a lot under an
        // unbalanced router); which worker runs an expert does not change its result.
        let workers = min(context.threads, active.count)
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let j = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard j < active.count else { return }
                body(active[j])
            }
        }
    }

    /// Per-expert result slots written by the forward workers, each index by one worker only.
    struct ExpertSlots: @unchecked Sendable {
        /// Expert caches [E].
        let caches: UnsafeMutableBufferPointer<ExpertMLP.Cache?>
        /// Expert outputs [E].
        let outputs: UnsafeMutableBufferPointer<Matrix>
    }

    /// What the backward workers write: expert i (its gradients), its assignments' dWeights and its
    /// input gradient slot, each by one worker only.
    struct BackwardSlots: @unchecked Sendable {
        /// The experts [E].
        let experts: UnsafeMutableBufferPointer<ExpertMLP>
        /// dWeights [N, k].
        let dWeights: UnsafeMutableBufferPointer<Float>
        /// Each expert's input gradient [n_e, D] [E].
        let inputGradients: UnsafeMutableBufferPointer<Matrix>
    }

    /// The rows of x [N, D] named by the assignments `run` (row a / k for assignment a): [run.count, D].
    static func gather(_ x: Matrix, rows run: ArraySlice<Int32>, topK k: Int) -> Matrix {
        let d = x.cols
        var out = Matrix(uninitializedRows: run.count, cols: d)  // every row is copied below
        x.data.withUnsafeBufferPointer { px in
            out.data.withUnsafeMutableBufferPointer { po in
                guard let src = px.baseAddress, let dst = po.baseAddress else { return }
                for (r, a) in run.enumerated() {
                    (dst + r * d).update(from: src + (Int(a) / k) * d, count: d)
                }
            }
        }
        return out
    }
}
