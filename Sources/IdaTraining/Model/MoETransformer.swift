import IdaNumerics
import IdaRouting

/// A byte-level decoder-only transformer whose feed-forward layers are mixtures of experts: token and
/// position embeddings, pre-norm blocks, a final RMSNorm and an output head tied to the token embedding.
public struct MoETransformer: Sendable {
    /// Shape and router settings.
    public let config: ModelConfig
    /// Token embedding [V, D], also the output head.
    public var tokenEmbedding: Embedding
    /// Position embedding [T, D].
    public var positionEmbedding: Embedding
    /// The blocks.
    public var blocks: [TransformerBlock]
    /// Final RMSNorm.
    public var finalNorm: RMSNorm

    /// A freshly initialised model (GPT-2 style: embeddings N(0, 0.02), residual projections scaled down).
    public init(config: ModelConfig, seed: UInt64) throws {
        try config.validate()
        var rng = SeededGenerator(seed: seed)
        let d = config.width
        tokenEmbedding = Embedding(vocab: config.vocab, width: d, rng: &rng)
        positionEmbedding = Embedding(vocab: config.context, width: d, rng: &rng)
        let kind = config.expertKind
        let moeLayers = Set(config.moeLayers)
        var blocks: [TransformerBlock] = []
        let residualScale = 1 / Float(2 * config.blocks).squareRoot()
        for i in 0..<config.blocks {
            var attention = CausalSelfAttention(width: d, heads: config.heads, rng: &rng)
            for j in attention.proj.weight.data.indices { attention.proj.weight.data[j] *= residualScale }
            var block = TransformerBlock(attentionNorm: RMSNorm(width: d), attention: attention,
                                         ffnNorm: RMSNorm(width: d))
            if moeLayers.contains(i) {
                var experts: [ExpertMLP] = []
                for _ in 0..<config.experts {
                    var expert = ExpertMLP(kind: kind, width: d, hidden: config.expertHidden, rng: &rng)
                    for j in expert.down.weight.data.indices { expert.down.weight.data[j] *= residualScale }
                    experts.append(expert)
                }
                block.moe = MoEFeedForward(experts: experts)
                switch config.router {
                case .ida:
                    block.ida = try IDARouter(config: config.routerConfig, hiddenDim: d, hidden: config.routerHidden, rng: &rng)
                case .softmax, .sigmoidBias:
                    block.softmax = try SoftmaxRouter(experts: config.experts, hiddenDim: d, topK: config.topK,
                                                      bias: config.gateBias,
                                                      scoring: config.router.gateScoring ?? .softmax,
                                                      selectionBias: config.router == .sigmoidBias, rng: &rng)
                case .recorded:
                    // Refused by `ModelConfig.validate` (a recorded routing has no router to train).
                    throw SettingError.invalidSetting(key: "router", problem: "recorded decisions cannot be trained")
                }
            } else {
                var mlp = ExpertMLP(kind: kind, width: d, hidden: config.expertHidden, rng: &rng)
                for j in mlp.down.weight.data.indices { mlp.down.weight.data[j] *= residualScale }
                block.dense = mlp
            }
            blocks.append(block)
        }
        self.config = config
        self.blocks = blocks
        self.finalNorm = RMSNorm(width: d)
    }

    /// Calls `body` on every parameter with its checkpoint name (docs/format.md).
    public mutating func visitParameters(_ body: ParameterVisitor) {
        tokenEmbedding.visitParameters(prefix: "tok_emb", body)
        positionEmbedding.visitParameters(prefix: "pos_emb", body)
        for i in blocks.indices { blocks[i].visitParameters(index: i, body) }
        finalNorm.visitParameters(prefix: "norm", body)
    }

    /// Sets every gradient to zero.
    public mutating func zeroGrad() {
        tokenEmbedding.zeroGrad()
        positionEmbedding.zeroGrad()
        for i in blocks.indices { blocks[i].zeroGrad() }
        finalNorm.zeroGrad()
    }

    /// True when `name` belongs to a router (trained by the router losses with the router learning rate).
    public static func isRouterParameter(_ name: String) -> Bool { name.contains(".router.") }

    /// Number of scalar parameters.
    public var parameterCount: Int {
        var copy = self
        var total = 0
        copy.visitParameters { _, _, value, _ in total += value.count }
        return total
    }
}
