import IdaNumerics

/// One pre-norm block: x += attn(norm(x)); x += ffn(norm(x)), where ffn is dense or a routed mixture.
/// Exactly one of `dense` and `moe` is set; a MoE block has exactly one of `ida` and `softmax`.
public struct TransformerBlock: Sendable {
    /// RMSNorm before attention.
    public var attentionNorm: RMSNorm
    /// Causal multi-head self-attention.
    public var attention: CausalSelfAttention
    /// RMSNorm before the feed-forward layer.
    public var ffnNorm: RMSNorm
    /// A dense feed-forward layer (blocks without MoE).
    public var dense: ExpertMLP?
    /// The experts (MoE blocks).
    public var moe: MoEFeedForward?
    /// The IDA router (MoE blocks with `--router ida`).
    public var ida: IDARouter?
    /// The softmax router (MoE blocks with `--router softmax`).
    public var softmax: SoftmaxRouter?

    /// Whether this block routes tokens to experts.
    public var isMoE: Bool { moe != nil }

    /// Calls `body` on every parameter under the checkpoint names `layers.{index}.*`.
    public mutating func visitParameters(index: Int, _ body: ParameterVisitor) {
        let p = "layers.\(index)"
        attentionNorm.visitParameters(prefix: "\(p).attn_norm", body)
        attention.visitParameters(prefix: "\(p).attn", body)
        ffnNorm.visitParameters(prefix: "\(p).ffn_norm", body)
        dense?.visitParameters(prefix: "\(p).ffn", body)
        moe?.visitParameters(prefix: p, body)
        ida?.visitParameters { name, shape, value, grad in body("\(p).router.\(name)", shape, &value, &grad) }
        softmax?.visitParameters { name, shape, value, grad in body("\(p).router.\(name)", shape, &value, &grad) }
    }

    /// Sets every gradient of the block to zero.
    public mutating func zeroGrad() {
        attentionNorm.zeroGrad()
        attention.zeroGrad()
        ffnNorm.zeroGrad()
        dense?.zeroGrad()
        moe?.zeroGrad()
        ida?.zeroGrad()
        softmax?.zeroGrad()
    }
}
