/// Eight-float loads, stores and reductions over raw buffers for the fused loops of the layers.
///
/// Reductions keep eight partial sums, added in a fixed order at the end: the result depends only on
/// the values and their count, never on threads, and the loop vectorises.
public enum Elementwise {
    /// Eight floats at p + i.
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> {
        UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
    }

    /// Eight floats at p + i.
    @inline(__always)
    static func load(_ p: UnsafeMutablePointer<Float>, _ i: Int) -> SIMD8<Float> {
        UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
    }

    /// Stores eight floats at p + i.
    @inline(__always)
    static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
        UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// sum_i a[i] b[i] over n values.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            acc += load(a, i) * load(b, i)
            i += 8
        }
        var total = acc.sum()
        while i < n {
            total += a[i] * b[i]
            i += 1
        }
        return total
    }

    /// sum_i x[i] over n values.
    @inline(__always)
    static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            acc += load(x, i)
            i += 8
        }
        var total = acc.sum()
        while i < n {
            total += x[i]
            i += 1
        }
        return total
    }

    /// sum_i x[i]^2 over n values.
    @inline(__always)
    static func sumOfSquares(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        dot(x, x, n)
    }

    /// y[i] += x[i] over n values.
    @inline(__always)
    static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        while i + 8 <= n {
            store(load(y, i) + load(x, i), y, i)
            i += 8
        }
        while i < n {
            y[i] += x[i]
            i += 1
        }
    }

    /// y[i] += a x[i] over n values.
    @inline(__always)
    static func add(_ a: Float, times x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ n: Int) {
        let scale = SIMD8<Float>(repeating: a)
        var i = 0
        while i + 8 <= n {
            store(load(y, i) + scale * load(x, i), y, i)
            i += 8
        }
        while i < n {
            y[i] += a * x[i]
            i += 1
        }
    }
}

extension Elementwise {
    /// y[i] += x[i] over whole buffers of equal length, split over `context`'s workers by index ranges
    /// (element-wise: the result does not depend on the split).
    public static func add(_ x: [Float], into y: inout [Float], context: NumericContext = .serial) {
        precondition(x.count == y.count, "adding \(x.count) values into \(y.count)")
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                let source = SendablePointer(px.baseAddress), target = SendableMutablePointer(py.baseAddress)
                Parallel.forEachChunk(px.count, context: context) { range in
                    guard let s = source.pointer, let d = target.pointer else { return }
                    add(s + range.lowerBound, into: d + range.lowerBound, range.count)
                }
            }
        }
    }
}
