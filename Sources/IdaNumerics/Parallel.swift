import Foundation

/// Element-wise work split over the machine's cores when it is large enough to pay for the hand-off.
enum Parallel {
    /// Cores available to this process.
    static let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Calls `body` on disjoint ranges covering 0..<count, on several threads when count >= `minimum`.
    /// Each index is handled exactly once, so results do not depend on the number of threads.
    static func forEachChunk(_ count: Int, minimum: Int = 1 << 15, _ body: @Sendable (Range<Int>) -> Void) {
        let lanes = count >= minimum ? cores : 1
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
