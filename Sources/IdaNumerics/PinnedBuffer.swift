/// Arrays pinned together for one numeric pass, so that the pass sees each tensor as a named pointer
/// in one scope instead of one nested `withUnsafe...BufferPointer` closure per array. llm.c hands its
/// kernels raw pointers; Swift hands out an array's storage only inside a closure, so the nesting lives
/// here, once, in `withPinned`.
///
/// An array moves into a box without a copy; `withPinned(a, b, c) { ... }` pins every box for the
/// duration of one closure, where each box's `buffer` views its storage (empty outside the closure);
/// afterwards `take()` or `give(to:)` moves the array out again. Pinning changes no value and no order
/// of operations: it is the same `withUnsafe...BufferPointer` call, made by the helper.
///
/// Inside the closure a pass reads each `buffer` once into a local (one load, not one per element).
/// Boxes may be captured by the workers of `Parallel.forEachChunk`: they only read `buffer` and write
/// disjoint ranges through it, hence `@unchecked Sendable` (as `SendablePointer`).
protocol Pinnable: AnyObject {
    /// Runs `body` with this box's storage in `buffer`.
    func pin<R>(_ body: () -> R) -> R
}

/// Runs `body` with every box pinned; each box may appear once.
func withPinned<R>(_ boxes: any Pinnable..., body: () -> R) -> R {
    func pinned(from i: Int) -> R {
        guard i < boxes.count else { return body() }
        return boxes[i].pin { pinned(from: i + 1) }
    }
    return pinned(from: 0)
}

/// An array pinned for reading: its storage is viewed in place, never copied and never written.
final class PinnedBuffer<Element>: Pinnable, @unchecked Sendable {
    private let array: [Element]
    /// The array's storage while pinned; empty otherwise.
    private(set) var buffer = UnsafeBufferPointer<Element>(start: nil, count: 0)

    /// A box reading `array` (which may be shared).
    init(_ array: [Element]) { self.array = array }

    func pin<R>(_ body: () -> R) -> R {
        array.withUnsafeBufferPointer { storage in
            buffer = storage
            defer { buffer = UnsafeBufferPointer(start: nil, count: 0) }
            return body()
        }
    }
}

/// An array pinned for writing. The box should hold the array's only reference (a new array, or one
/// moved in with `init(taking:)`), or pinning copies it once, as `withUnsafeMutableBufferPointer` does.
final class PinnedMutableBuffer<Element>: Pinnable, @unchecked Sendable {
    private var array: [Element]
    /// The array's storage while pinned; empty otherwise.
    private(set) var buffer = UnsafeMutableBufferPointer<Element>(start: nil, count: 0)

    /// A box owning `array`.
    init(_ array: consuming [Element]) { self.array = array }

    /// A box owning `count` copies of `value`.
    convenience init(repeating value: Element, count: Int) {
        self.init([Element](repeating: value, count: count))
    }

    /// Moves `array` into a box, leaving it empty until `give(to:)` puts it back.
    convenience init(taking array: inout [Element]) {
        let moved = array
        array = []
        self.init(moved)
    }

    func pin<R>(_ body: () -> R) -> R {
        array.withUnsafeMutableBufferPointer { storage in
            buffer = storage
            defer { buffer = UnsafeMutableBufferPointer(start: nil, count: 0) }
            return body()
        }
    }

    /// Moves the array out, leaving the box empty.
    func take() -> [Element] {
        let moved = array
        array = []
        return moved
    }

    /// Moves the array back into `target` (see `init(taking:)`), leaving the box empty.
    func give(to target: inout [Element]) { target = take() }
}
