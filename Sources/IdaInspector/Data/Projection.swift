import Foundation

/// A 2-D linear projection of P-dimensional latents: the two leading principal axes.
public struct Projection: Sendable, Equatable {
    /// Mean latent [P].
    public var center: [Double]
    /// Two unit axes [2][P], the first explaining the most variance.
    public var axes: [[Double]]
    /// Variance along each axis.
    public var variances: [Double]

    /// PCA of rows z [N, P] (row-major). `previous` keeps the picture stable across snapshots: axes are
    /// re-ordered and sign-flipped to agree best with the previous axes.
    public init(latents z: [Float], dimension p: Int, previous: Projection? = nil) {
        let n = p > 0 ? z.count / p : 0
        var center = [Double](repeating: 0, count: p)
        for r in 0..<n { for j in 0..<p { center[j] += Double(z[r * p + j]) } }
        if n > 0 { for j in 0..<p { center[j] /= Double(n) } }
        var cov = [Double](repeating: 0, count: p * p)
        for r in 0..<n {
            for a in 0..<p {
                let da = Double(z[r * p + a]) - center[a]
                for b in a..<p { cov[a * p + b] += da * (Double(z[r * p + b]) - center[b]) }
            }
        }
        for a in 0..<p { for b in a..<p { cov[a * p + b] /= Double(max(n - 1, 1)); cov[b * p + a] = cov[a * p + b] } }
        let (values, vectors) = Self.symmetricEigen(cov, p)
        let order = values.indices.sorted { values[$0] > values[$1] }
        var axes: [[Double]] = order.prefix(2).map { i in (0..<p).map { vectors[$0 * p + i] } }
        var variances = order.prefix(2).map { values[$0] }
        while axes.count < 2 {
            axes.append([Double](repeating: 0, count: p))
            variances.append(0)
        }
        if let previous, previous.axes.count == 2, previous.axes[0].count == p {
            func dot(_ x: [Double], _ y: [Double]) -> Double { zip(x, y).reduce(0) { $0 + $1.0 * $1.1 } }
            let keep = abs(dot(axes[0], previous.axes[0])) + abs(dot(axes[1], previous.axes[1]))
            let swap = abs(dot(axes[1], previous.axes[0])) + abs(dot(axes[0], previous.axes[1]))
            if swap > keep {
                axes.swapAt(0, 1)
                variances.swapAt(0, 1)
            }
            for i in 0..<2 where dot(axes[i], previous.axes[i]) < 0 { axes[i] = axes[i].map { -$0 } }
        } else {
            // Without history, fix the sign so the largest component of each axis is positive.
            for i in 0..<2 {
                if let big = axes[i].max(by: { abs($0) < abs($1) }), big < 0 { axes[i] = axes[i].map { -$0 } }
            }
        }
        self.center = center
        self.axes = axes
        self.variances = variances
    }

    /// The 2-D coordinates of one latent.
    public func project(_ z: ArraySlice<Float>) -> (Double, Double) {
        var x = 0.0, y = 0.0
        for (j, v) in z.enumerated() {
            let d = Double(v) - center[j]
            x += d * axes[0][j]
            y += d * axes[1][j]
        }
        return (x, y)
    }

    /// Standard deviations of a diagonal Gaussian with variances `variance` [P] along the two axes.
    public func sigma(variance: [Double]) -> (Double, Double) {
        var sx = 0.0, sy = 0.0
        for j in variance.indices {
            sx += axes[0][j] * axes[0][j] * variance[j]
            sy += axes[1][j] * axes[1][j] * variance[j]
        }
        return (sx.squareRoot(), sy.squareRoot())
    }

    /// Eigenvalues and eigenvectors (columns of a row-major [p, p] matrix) by cyclic Jacobi rotations.
    static func symmetricEigen(_ matrix: [Double], _ p: Int) -> ([Double], [Double]) {
        var a = matrix
        var v = [Double](repeating: 0, count: p * p)
        for i in 0..<p { v[i * p + i] = 1 }
        for _ in 0..<60 {
            var off = 0.0
            for i in 0..<p { for j in (i + 1)..<p { off += a[i * p + j] * a[i * p + j] } }
            if off < 1e-22 { break }
            for i in 0..<p {
                for j in (i + 1)..<p {
                    let aij = a[i * p + j]
                    if abs(aij) < 1e-300 { continue }
                    let theta = (a[j * p + j] - a[i * p + i]) / (2 * aij)
                    let t = (theta >= 0 ? 1 : -1) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<p {
                        let aki = a[k * p + i], akj = a[k * p + j]
                        a[k * p + i] = c * aki - s * akj
                        a[k * p + j] = s * aki + c * akj
                    }
                    for k in 0..<p {
                        let aik = a[i * p + k], ajk = a[j * p + k]
                        a[i * p + k] = c * aik - s * ajk
                        a[j * p + k] = s * aik + c * ajk
                    }
                    for k in 0..<p {
                        let vki = v[k * p + i], vkj = v[k * p + j]
                        v[k * p + i] = c * vki - s * vkj
                        v[k * p + j] = s * vki + c * vkj
                    }
                }
            }
        }
        return ((0..<p).map { a[$0 * p + $0] }, v)
    }
}
