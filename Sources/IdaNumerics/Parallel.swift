import Foundation

/// Element-wise work split over a context's workers when it is large enough to pay for the hand-off.
enum Parallel {
    /// Calls `body` on disjoint ranges covering 0..<count, on `context.threads` workers when
    /// count >= `minimum`. Each index is handled exactly once, so results do not depend on the split.
    static func forEachChunk(_ count: Int, minimum: Int = 1 << 15, context: NumericContext,
                             _ body: @Sendable (Range<Int>) -> Void) {
        let lanes = count >= minimum ? context.threads : 1
        guard lanes > 1 else {
            body(0..<count)
            return
        }
        let chunk = (count + lanes - 1) / lanes
        DispatchQueue.concurrentPerform(iterations: lanes) { lane in
            let start = lane * chunk
            if start < count { body(start..<min(count, start + chunk)) }
        }
    }
}
