/// How a linear-gate router weights the experts it chose, and which experts it may choose: what
/// published MoE models do beyond "top-k, renormalised" (docs/format.md, "Routing, exactly").
/// The defaults are the contract's original routing; the expert distribution and its entropy never
/// depend on these options.
public struct GateOptions: Sendable, Equatable {
    /// Gates are the selected scores renormalised to sum 1 (true) or the selected scores as they are
    /// (false: `norm_topk_prob = false` in Qwen2-MoE and OLMoE).
    public var normalize: Bool
    /// Factor on every gate after the normalisation (DeepSeek-V3's `routed_scaling_factor`).
    public var scale: Float
    /// The experts form this many equal groups of consecutive indices (1: no groups).
    public var groups: Int
    /// Only experts of the `groupTopK` best groups may be chosen (DeepSeek-V3's `topk_group`); a
    /// group's score is `groupScore` of its selection scores.
    public var groupTopK: Int
    /// How a group is scored: the sum of its two best selection scores (DeepSeek-V3) or its best one
    /// (DeepSeek-V2's `group_limited_greedy`).
    public var groupScore: GroupScore
    /// What the selection bias is added to for the choice: the scores (DeepSeek-V3, Ernie 4.5) or the
    /// logits (Kolibri). The gates use the scores without the bias either way.
    public var biasOn: BiasTarget

    /// A group's score from its members' selection scores.
    public enum GroupScore: String, Sendable, Equatable, CaseIterable {
        /// The sum of the two best (the one score when a group holds one expert).
        case topTwoSum = "top2sum"
        /// The best.
        case max
    }

    /// What a selection bias is added to.
    public enum BiasTarget: String, Sendable, Equatable, CaseIterable {
        /// The expert scores (softmax probabilities or sigmoids).
        case scores
        /// The gate's logits.
        case logits
    }

    /// The contract's default: renormalised gates, scale 1, no groups.
    public static let standard = GateOptions()

    /// Options; `groupTopK` defaults to `groups` (every group eligible).
    public init(normalize: Bool = true, scale: Float = 1, groups: Int = 1, groupTopK: Int? = nil,
                groupScore: GroupScore = .topTwoSum, biasOn: BiasTarget = .scores) {
        self.normalize = normalize
        self.scale = scale
        self.groups = groups
        self.groupTopK = groupTopK ?? groups
        self.groupScore = groupScore
        self.biasOn = biasOn
    }

    /// Whether selection drops groups (otherwise it is a plain top-k over all experts).
    public var limitsGroups: Bool { groups > 1 && groupTopK < groups }

    /// The option a problem is about.
    public enum Field: Sendable, Equatable {
        /// `scale`.
        case scale
        /// `groups`.
        case groups
        /// `groupTopK`.
        case groupTopK
    }

    /// The first reason these options cannot route E experts k at a time, or nil when they can: the
    /// scale must be finite and positive, the groups must divide E, 1 <= groupTopK <= groups, and the
    /// eligible groups must hold at least k experts.
    public func problem(experts: Int, topK: Int) -> (field: Field, message: String)? {
        guard scale.isFinite, scale > 0 else { return (.scale, "gate scale must be finite and positive, got \(scale)") }
        guard groups >= 1, groups <= experts, experts % groups == 0 else {
            return (.groups, "\(groups) expert groups do not divide \(experts) experts evenly")
        }
        guard groupTopK >= 1, groupTopK <= groups else {
            return (.groupTopK, "group top-k must be 1...\(groups), got \(groupTopK)")
        }
        guard groupTopK * (experts / groups) >= topK else {
            return (.groupTopK, "\(groupTopK) of \(groups) groups hold \(groupTopK * (experts / groups)) experts, fewer than top-k \(topK)")
        }
        return nil
    }
}
