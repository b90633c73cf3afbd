import Foundation

/// One `[Float]` taken out of its owner (a parameter, its gradient or an optimizer moment) for a pass
/// over every tensor of a model at once; `take` and `give` move it without copying.
public final class FloatBox: @unchecked Sendable {
    public var array: [Float]

    public init(_ array: [Float] = []) { self.array = array }

    /// A box holding `array`'s buffer; `array` is left empty, so the box's copy is the only one.
    public static func take(_ array: inout [Float]) -> FloatBox {
        let box = FloatBox(array)
        array = []
        return box
    }

    /// Moves the buffer back into `array`, leaving the box empty.
    public func give(to array: inout [Float]) {
        array = self.array
        self.array = []
    }
}

/// Work over many tensors in one hand-off: each worker owns whole tensors, assigned largest first to
/// the least loaded worker. A tensor is never split, so per-tensor reductions (sums of squares) do not
/// depend on the thread count, and no two workers touch the same box.
public enum TensorPass {
    /// Tensor indices per worker, balanced by element count.
    public static func lanes(sizes: [Int], workers: Int) -> [[Int]] {
        let n = max(1, min(workers, sizes.count))
        var lanes = [[Int]](repeating: [], count: n)
        var load = [Int](repeating: 0, count: n)
        for t in sizes.indices.sorted(by: { sizes[$0] != sizes[$1] ? sizes[$0] > sizes[$1] : $0 < $1 }) {
            var lightest = 0
            for l in 1..<n where load[l] < load[lightest] { lightest = l }
            lanes[lightest].append(t)
            load[lightest] += sizes[t]
        }
        return lanes
    }

    /// Calls `body(t)` once for every tensor index t, on `context.threads` workers when the tensors
    /// hold at least `minimum` elements in all.
    public static func forEach(sizes: [Int], minimum: Int = 1 << 15, context: NumericContext,
                               _ body: @Sendable (Int) -> Void) {
        let workers = sizes.reduce(0, +) >= minimum ? context.threads : 1
        guard workers > 1, sizes.count > 1 else {
            for t in sizes.indices { body(t) }
            return
        }
        let plan = lanes(sizes: sizes, workers: workers)
        DispatchQueue.concurrentPerform(iterations: plan.count) { lane in
            for t in plan[lane] { body(t) }
        }
    }
}

extension TensorPass {
    /// Adds the gradients of parts 1, 2, ... into part 0's, tensor by tensor in part order (each part
    /// holds one box per tensor, in the same order), on `context`'s workers; returns the sum of squares
    /// of each summed tensor (as `GradientClipping.sumOfSquares`), so clipping needs no pass of its own.
    public static func addParts(_ parts: [[FloatBox]], context: NumericContext) -> [Double] {
        guard let first = parts.first else { return [] }
        for p in parts { precondition(p.count == first.count, "parts hold \(p.count) and \(first.count) tensors") }
        let sums = SumsOfSquares(count: first.count)
        TensorPass.forEach(sizes: first.map(\.array.count), context: context) { t in
            parts[0][t].array.withUnsafeMutableBufferPointer { target in
                for p in parts.dropFirst() {
                    p[t].array.withUnsafeBufferPointer { source in
                        precondition(source.count == target.count, "adding \(source.count) values into \(target.count)")
                        guard let s = source.baseAddress, let d = target.baseAddress else { return }
                        Elementwise.add(s, into: d, target.count)
                    }
                }
                sums.set(t, GradientClipping.sumOfSquares(target.baseAddress, target.count))
            }
        }
        return sums.values
    }
}
