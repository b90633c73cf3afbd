import Foundation
import IdaNumerics

/// The outcome of comparing two arrays with explicit tolerances: |a - e| <= atol + rtol * |e|.
public struct Comparison: CustomStringConvertible {
    /// True when every element is within tolerance and the lengths agree.
    public var ok: Bool
    /// A report: label, first values, the largest difference and where it is.
    public var description: String
}

/// Compares `actual` with `expected` elementwise; the report shows the first values and the worst element.
public func checkTensor(_ label: String, _ actual: [Double], _ expected: [Double],
                        rtol: Double, atol: Double = 0) -> Comparison {
    guard actual.count == expected.count else {
        return Comparison(ok: false, description: "\(label): \(actual.count) values, expected \(expected.count)")
    }
    var worst = -1
    var worstExcess = 0.0
    var largestDiff = 0.0
    for i in actual.indices {
        let a = actual[i], e = expected[i]
        let diff = (a == e) ? 0 : abs(a - e)  // equal infinities compare as 0
        largestDiff = max(largestDiff, diff.isNaN ? .infinity : diff)
        let excess = diff.isNaN ? .infinity : diff - (atol + rtol * abs(e))
        if excess > 0 && (worst < 0 || excess > worstExcess) {
            worst = i
            worstExcess = excess
        }
    }
    let head = actual.prefix(4).map { String(format: "%.6g", $0) }.joined(separator: ", ")
    let expectedHead = expected.prefix(4).map { String(format: "%.6g", $0) }.joined(separator: ", ")
    var text = "\(label): first [\(head)] expected [\(expectedHead)], largest |diff| \(String(format: "%.3g", largestDiff))"
    if worst >= 0 {
        text += "; element \(worst): \(actual[worst]) vs \(expected[worst]) (rtol \(rtol), atol \(atol))"
    }
    return Comparison(ok: worst < 0, description: text)
}

/// `checkTensor` for Float arrays.
public func checkTensor(_ label: String, _ actual: [Float], _ expected: [Float],
                        rtol: Double, atol: Double = 0) -> Comparison {
    checkTensor(label, actual.map(Double.init), expected.map(Double.init), rtol: rtol, atol: atol)
}

/// Central finite differences of `loss` with respect to each element of `values`:
/// (loss(v + eps e_i) - loss(v - eps e_i)) / 2 eps, each evaluated on a fresh copy.
public func finiteDifferences(_ values: [Float], epsilon: Float, loss: ([Float]) -> Double) -> [Double] {
    var grads = [Double](repeating: 0, count: values.count)
    for i in values.indices {
        var plus = values
        plus[i] += epsilon
        var minus = values
        minus[i] -= epsilon
        grads[i] = (loss(plus) - loss(minus)) / Double(plus[i] - minus[i])
    }
    return grads
}

/// A deterministic matrix with entries drawn from N(0, scale^2).
public func randomMatrix(rows: Int, cols: Int, scale: Float = 1, seed: UInt64) -> Matrix {
    var rng = SeededGenerator(seed: seed)
    var m = Matrix(rows: rows, cols: cols)
    for i in m.data.indices { m.data[i] = scale * rng.normal() }
    return m
}
