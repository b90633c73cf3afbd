/// Visits trainable tensors by their checkpoint names (relative to `layers.{i}.router.`), with their
/// shapes, values and gradients, so optimizers and writers need no knowledge of the layer types.
/// A visit reaches the same tensors in the same order whatever the arrays hold: passes over every
/// tensor (TensorPass) take the arrays out in one visit and put them back in the next.
public typealias ParameterVisitor = (_ name: String, _ shape: [Int], _ value: inout [Float], _ grad: inout [Float]) -> Void

extension Linear {
    /// Visits `prefix.weight` [out, in] and `prefix.bias` [out] when present.
    public mutating func visitParameters(prefix: String, _ body: ParameterVisitor) {
        body("\(prefix).weight", [outputs, inputs], &weight.data, &gradWeight.data)
        if var b = bias, var gb = gradBias {
            bias = nil
            gradBias = nil
            body("\(prefix).bias", [b.count], &b, &gb)
            bias = b
            gradBias = gb
        }
    }
}

extension MLP {
    /// Visits `prefix.{j}.weight` and `prefix.{j}.bias` for every layer j.
    public mutating func visitParameters(prefix: String, _ body: ParameterVisitor) {
        for j in layers.indices { layers[j].visitParameters(prefix: "\(prefix).\(j)", body) }
    }
}

extension IDARouter {
    /// Visits encoder.*, decoder.*, gmm.logits [K], gmm.means [K,P], gmm.log_vars [K,P].
    public mutating func visitParameters(_ body: ParameterVisitor) {
        encoder.visitParameters(prefix: "encoder", body)
        decoder.visitParameters(prefix: "decoder", body)
        let k = gmm.components, p = gmm.latentDim
        body("gmm.logits", [k], &gmm.logits, &gmm.gradLogits)
        body("gmm.means", [k, p], &gmm.means.data, &gmm.gradMeans.data)
        body("gmm.log_vars", [k, p], &gmm.logVars.data, &gmm.gradLogVars.data)
    }
}

extension SoftmaxRouter {
    /// Visits gate.weight [E, D], gate.bias [E] when present, and expert_bias [E] (the selection bias)
    /// when present: a buffer whose gradient stays zero, visited so snapshots and resumes carry it.
    public mutating func visitParameters(_ body: ParameterVisitor) {
        gate.visitParameters(prefix: "gate", body)
        if hasSelectionBias {
            var value = selectionBias, grad = [Float](repeating: 0, count: selectionBias.count)
            body("expert_bias", [value.count], &value, &grad)
            selectionBias = value
        }
    }
}
