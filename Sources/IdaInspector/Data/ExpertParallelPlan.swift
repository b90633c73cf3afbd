import IdaFormats
import IdaNumerics
import IdaRouting

/// How the expert-parallel view places experts on ranks (docs/format.md, "The expert-parallel
/// view"): contiguously over G ranks (`--ep G`, key `g` cycles G) or by a placement file
/// (`--placement FILE`, `g` shows and hides it), and optionally the what-if of R extra slots
/// replicating the hottest experts (`--redundant R`).
public struct ExpertParallelPlan: Sendable {
    /// Ranks G: of the contiguous placement, or of a placement file that names none.
    public var ranks: Int?
    /// The physical-to-logical map, when one was given.
    public var placement: PlacementFile?
    /// Extra slots of the what-if (nil: no what-if).
    public var redundant: Int?
    /// Whether the screens show the view.
    public var shown: Bool

    /// A plan; shown from the start when it names ranks or a placement.
    public init(ranks: Int? = nil, placement: PlacementFile? = nil, redundant: Int? = nil) {
        self.ranks = ranks
        self.placement = placement
        self.redundant = redundant
        shown = ranks != nil || placement != nil
    }

    /// Whether the view is on and has something to place by.
    var active: Bool { shown && (ranks != nil || placement != nil) }

    /// The placement of a layer of `experts` experts, or why there is none (a one-line message).
    func placement(layer: Int, experts: Int) -> Result<ExpertPlacement, PlanProblem> {
        do {
            if let placement { return .success(try placement.placement(layer: layer, experts: experts, ranks: ranks)) }
            // A layer with fewer experts than ranks puts one on each of its first E ranks' worth.
            return .success(try ExpertPlacement.contiguous(experts: experts, ranks: min(ranks ?? 1, max(experts, 1))))
        } catch let failure as ExpertPlacement.Failure {
            return .failure(PlanProblem(message: "--ep \(ranks ?? 1), layer \(layer): \(failure)"))
        } catch {
            // The placement file's own message names the file and the layer.
            return .failure(PlanProblem(message: UntrustedText.sanitized("\(error)")))
        }
    }

    /// Each rank's share of the layer's load [E] under the placement; nil when off or it does not fit.
    func rankLoad(layer: Int, load: [Double]) -> RankLoad? {
        guard active, !load.isEmpty, case let .success(p) = placement(layer: layer, experts: load.count) else { return nil }
        return RankLoad(placement: p, expertLoad: load)
    }

    /// The what-if: the rank loads after R extra slots replicate the layer's hottest experts; nil
    /// without `redundant` or where E + R does not split over the ranks.
    func replicated(layer: Int, load: [Double]) -> RankLoad? {
        guard let redundant, active, !load.isEmpty, case let .success(p) = placement(layer: layer, experts: load.count),
              let what = try? ExpertPlacement.replicated(load: load, ranks: p.ranks, redundant: redundant) else { return nil }
        return RankLoad(placement: what, expertLoad: load)
    }

    /// The first layer of `layers` (block, experts) the placement does not fit, as a one-line message.
    func problem(_ layers: [(layer: Int, experts: Int)]) -> String? {
        guard active else { return nil }
        for l in layers {
            if case let .failure(p) = placement(layer: l.layer, experts: l.experts) { return p.message }
        }
        return nil
    }

    /// "4 ranks", "placement p.json, 8 ranks", with ", +4 slots" for a what-if.
    func label(ranks shown: Int?) -> String {
        let g = shown.map { "\($0) ranks" } ?? "ranks"
        let base = placement.map { "placement \(UntrustedText.sanitized($0.path)), " + g } ?? g
        return base + (redundant.map { ", +\($0) slots" } ?? "")
    }

    /// Key `g`: with a placement file, show or hide it; else off, 2, 4, ... up to `experts` ranks, off.
    mutating func cycle(experts: Int) {
        if placement != nil {
            shown.toggle()
            return
        }
        let next = (shown ? ranks ?? 1 : 1) * 2
        ranks = next <= experts ? next : nil
        shown = ranks != nil
    }
}

/// Why a placement does not fit a layer: one line, for the alerts and a headless frame's exit status.
struct PlanProblem: Error, Sendable, Equatable {
    var message: String
}
