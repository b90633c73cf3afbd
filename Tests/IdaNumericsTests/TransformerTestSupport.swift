import IdaNumerics
import IdaTestSupport

/// The transformer blocks, whose parameters can be visited by name (for generic gradient checks).
protocol TransformerVisitable {
    /// Visits every parameter as `prefix.name`.
    mutating func visitParameters(prefix: String, _ body: ParameterVisitor)
}

extension Embedding: TransformerVisitable {}
extension RMSNorm: TransformerVisitable {}
extension CausalSelfAttention: TransformerVisitable {}
extension ExpertMLP: TransformerVisitable {}
extension MoEFeedForward: TransformerVisitable {}

/// Names, values and gradients of every parameter of `layer`, in visiting order.
func transformerParameters<L: TransformerVisitable>(_ layer: L) -> [(name: String, value: [Float], grad: [Float])] {
    var copy = layer
    var found: [(name: String, value: [Float], grad: [Float])] = []
    copy.visitParameters(prefix: "p") { name, _, value, grad in found.append((name, value, grad)) }
    return found
}

/// A copy of `layer` with one named parameter replaced.
func transformerReplacing<L: TransformerVisitable>(_ layer: L, _ name: String, with values: [Float]) -> L {
    var copy = layer
    copy.visitParameters(prefix: "p") { n, _, value, _ in if n == name { value = values } }
    return copy
}

/// sum(y * r) in double: a scalar loss whose gradient with respect to y is r.
func transformerProjection(_ y: Matrix, _ r: Matrix) -> Double {
    precondition(y.data.count == r.data.count)
    var total = 0.0
    for i in y.data.indices { total += Double(y.data[i]) * Double(r.data[i]) }
    return total
}

/// Compares every parameter gradient of `trained` (after one backward from zeroed gradients) with
/// central differences of `loss` evaluated on copies of `layer`.
func transformerCheckParameterGradients<L: TransformerVisitable>(
    _ layer: L, trained: L, epsilon: Float = 1e-2, rtol: Double = 2e-2, atol: Double = 2e-3,
    loss: (L) -> Double
) -> [Comparison] {
    var results: [Comparison] = []
    for parameter in transformerParameters(trained) {
        let numeric = finiteDifferences(parameter.value, epsilon: epsilon) { values in
            loss(transformerReplacing(layer, parameter.name, with: values))
        }
        results.append(checkTensor(parameter.name, parameter.grad, numeric.map(Float.init), rtol: rtol, atol: atol))
    }
    return results
}

/// Central differences of `loss` with respect to every element of x.
func transformerInputGradient(_ x: Matrix, epsilon: Float = 1e-2, loss: (Matrix) -> Double) -> [Float] {
    finiteDifferences(x.data, epsilon: epsilon) { values in
        loss(Matrix(rows: x.rows, cols: x.cols, data: values))
    }.map(Float.init)
}

/// Random values for a 1-D parameter (deterministic).
func transformerRandomVector(_ count: Int, scale: Float = 1, offset: Float = 0, seed: UInt64) -> [Float] {
    randomMatrix(rows: 1, cols: count, scale: scale, seed: seed).data.map { $0 + offset }
}
