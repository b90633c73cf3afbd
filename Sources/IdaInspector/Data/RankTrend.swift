import IdaNumerics

/// The expert-parallel view over the logged training steps, per MoE layer: the busiest rank's
/// MaxVio at each step, which rank is busiest now and since which step it has been (which rank
/// stalls, on which layer, since when). Data only: the Overview draws it.
struct RankTrend: Sendable, Equatable {
    /// Block index.
    var layer: Int
    /// Rank MaxVio at each logged step [steps] (NaN where the step has no load for the layer or
    /// the placement does not fit it).
    var maxVio: [Double]
    /// The busiest rank at the newest step that has the layer.
    var hottest: Int
    /// The rank MaxVio then.
    var latest: Double
    /// That step.
    var latestStep: Int
    /// The first step of the unbroken run of steps, ending at `latestStep`, in which `hottest` was
    /// the busiest rank.
    var since: Int

    /// The trend of `layer` over `history`'s steps under `plan`; nil when no step places it.
    static func of(layer: Int, history: RunHistory, plan: ExpertParallelPlan) -> RankTrend? {
        var vio: [Double] = [], hot: [(step: Int, rank: Int)] = []
        vio.reserveCapacity(history.steps.count)
        for step in history.steps {
            guard let record = step.layers.first(where: { $0.layer == layer }),
                  let ranks = plan.rankLoad(layer: layer, load: record.load) else {
                vio.append(.nan)
                continue
            }
            vio.append(ranks.maxVio)
            hot.append((step.step, ranks.hottest))
        }
        guard let last = hot.last, let latest = vio.last(where: { !$0.isNaN }) else { return nil }
        var since = last.step
        for h in hot.reversed() {
            guard h.rank == last.rank else { break }
            since = h.step
        }
        return RankTrend(layer: layer, maxVio: vio, hottest: last.rank, latest: latest, latestStep: last.step, since: since)
    }

    /// The layer whose busiest rank is the most overloaded at the newest step (the lowest block of
    /// ties), over the layers the newest step logs.
    static func worst(history: RunHistory, plan: ExpertParallelPlan) -> RankTrend? {
        guard plan.active, let newest = history.steps.last else { return nil }
        var best: (layer: Int, vio: Double)?
        for record in newest.layers {
            guard let r = plan.rankLoad(layer: record.layer, load: record.load), r.maxVio.isFinite else { continue }
            if best == nil || r.maxVio > best?.vio ?? 0 || (r.maxVio == best?.vio && record.layer < best?.layer ?? 0) {
                best = (record.layer, r.maxVio)
            }
        }
        return best.flatMap { of(layer: $0.layer, history: history, plan: plan) }
    }
}
