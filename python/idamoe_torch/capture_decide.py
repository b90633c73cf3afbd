"""How each candidate rule fares against the model's own routing (`Tally`, `tally`: experts compared away
from near-ties, gate weights matched by expert, a gate scale estimated), and the decision: the first rule
that reproduces every block on every token, or a one-line refusal naming the closest rule and how it
differs (`decide`; with `unverified`, the closest rule written and marked so)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from .capture_gates import FoundGate, positive_count
from .capture_rules import TOP_K_NAMES, RuleKey, guessed_key, make_router
from .capture_watch import Choices
from .layers import ContractError
from .softmax_router import LinearGateRouter


#: Scores closer than this (relative) count as tied: either expert may be chosen. A model run in half
#: precision rounds its gate logits (bfloat16: 2^-8 relative), so its near-ties are wider.
TIE_RTOL = {torch.float32: 1e-5, torch.float64: 1e-5, torch.bfloat16: 2e-2, torch.float16: 5e-3}
#: Gate weights must agree with the model's within this (absolute and relative) on tokens whose experts
#: agree; half precision rounds the model's logits and its weights.
WEIGHT_TOL = {torch.float32: 1e-4, torch.float64: 1e-4, torch.bfloat16: 5e-2, torch.float16: 1e-2}


@dataclass
class Tally:
    """How one rule fared on one block so far."""

    tokens: int = 0
    #: Tokens whose experts differ away from a tie, and at ties.
    other_experts: int = 0
    ties: int = 0
    #: Tokens (with the same experts) whose gate weights differ beyond the tolerance; the largest difference.
    other_weights: int = 0
    largest: float = 0.0
    #: The gate scale, estimated on the first tokens whose experts agree.
    scale: Optional[float] = None
    #: Tokens the model gave no gate weights for.
    unweighted: int = 0
    #: Per expert [E], on tokens whose experts agree: the smallest and largest ratio of the model's gate
    #: weight to the rule's (one factor an expert where the model scales each expert's weights).
    ratio_low: Optional[torch.Tensor] = None
    ratio_high: Optional[torch.Tensor] = None

    @property
    def failed(self) -> bool:
        """The rule has differed from the model (experts away from a tie, gate weights) or could not be
        checked on some token."""
        return self.other_experts > 0 or self.other_weights > 0 or self.unweighted > 0

    @property
    def exact(self) -> bool:
        return self.tokens > 0 and self.other_experts == 0 and self.other_weights == 0 and self.unweighted == 0


def _scale(estimate: float, known: Sequence[float]) -> float:
    """The gate scale: a value the model's settings name when within 1e-4, 1 when within 1e-5, else six
    significant digits of the estimate."""
    for value in [1.0, *known]:
        if value > 0 and abs(estimate - value) <= 1e-4 * value:
            return float(value)
    return float(f"{estimate:.6g}")


def tally(router: LinearGateRouter, logits: torch.Tensor, choices: Choices, into: Tally, tie_rtol: float, tol: float,
          scales: Sequence[float]) -> None:
    """Adds the router's agreement with the model's own choices (experts [n, k], weights [n, k]) on these
    tokens: expert sets compared away from ties (the k-th and (k+1)-th selection scores within `tie_rtol`,
    relative), gate weights matched by expert on tokens whose experts agree, within `tol`."""
    theirs, their_weights = choices
    out = router.decide(logits)
    ours = out["experts"]
    k = ours.shape[1]
    into.tokens += ours.shape[0]
    if theirs.shape[1] != k:
        into.other_experts += ours.shape[0]
        return
    ours_sorted, theirs_sorted = torch.sort(ours, dim=1), torch.sort(theirs, dim=1)
    differ = (ours_sorted.values != theirs_sorted.values).any(dim=1)
    if bool(differ.any()):
        # what the router ranks: a softmax router's probabilities (+ its selection bias), a sigmoid-bias
        # router's scores or logits + bias
        selection = out["selection"] if "selection" in out else router.biased(
            out["probabilities"], logits, getattr(router, "expert_bias", None))
        ranked = torch.sort(selection[differ], dim=1, descending=True).values
        if k < ranked.shape[1]:
            gap = (ranked[:, k - 1] - ranked[:, k]).abs() <= tie_rtol * ranked[:, k - 1].abs()
        else:
            gap = torch.zeros(ranked.shape[0], dtype=torch.bool)
        into.ties += int(gap.sum())
        into.other_experts += int((~gap).sum())
    same = ~differ
    if their_weights is None:
        into.unweighted += int(same.sum())
        return
    if not bool(same.any()):
        return
    u = torch.gather(out["weights"].double(), 1, ours_sorted.indices)[same]
    w = torch.gather(their_weights, 1, theirs_sorted.indices)[same]
    if into.scale is None:
        ratio = w.sum(dim=1) / u.sum(dim=1)
        ratio = ratio[torch.isfinite(ratio)]
        into.scale = _scale(float(ratio.median()), scales) if ratio.numel() else 1.0
    chosen = ours_sorted.values[same].reshape(-1)
    ratio = (w / u).reshape(-1)
    finite = torch.isfinite(ratio)
    experts = out["probabilities"].shape[1]
    if into.ratio_low is None or into.ratio_high is None:
        into.ratio_low = torch.full((experts,), float("inf"), dtype=torch.float64)
        into.ratio_high = torch.full((experts,), float("-inf"), dtype=torch.float64)
    into.ratio_low.scatter_reduce_(0, chosen[finite], ratio[finite], "amin")
    into.ratio_high.scatter_reduce_(0, chosen[finite], ratio[finite], "amax")
    diff = (into.scale * u - w).abs()
    bad = (diff > tol + tol * w.abs()).any(dim=1)
    into.other_weights += int(bad.sum())
    into.largest = max(into.largest, float(diff.max()))


@dataclass
class BlockCheck:
    """What was checked on one block, for the summary."""

    #: Tokens compared with the model's own routing (0: not checked).
    tokens: int
    ties: int = 0
    #: Largest gate-weight difference from the model's own (None: not checked).
    largest: Optional[float] = None
    #: Where the model's own routing was read: `experts` (what the block hands its experts) or `gate`.
    source: str = ""
    #: Tokens where the written router differs from the model (only an unverified capture has any).
    other_experts: int = 0
    other_weights: int = 0


def decide(gates: Dict[int, FoundGate], keys: Dict[int, List[RuleKey]], tallies: Dict[int, Dict[RuleKey, Tally]],
           top_ks: Dict[int, int], sources: Dict[int, str], unseen: Dict[int, str], config: Any, unverified: bool,
           n_tokens: int, linears: Optional[Dict[int, nn.Linear]] = None, tol: float = WEIGHT_TOL[torch.float32]
           ) -> Tuple[Dict[int, LinearGateRouter], List[str], Dict[int, BlockCheck], bool]:
    """The routers to write (one rule for every block; each on `linears[b]`, the block's float32 copy of its
    gate, when given), run.json's notes, what was checked, and whether the capture is unverified; a
    one-line ContractError when no rule of the contract reproduces the model on every token (or its
    routing cannot be seen) and `unverified` is not given. `tallies` holds the rules still in the running
    (capture_check drops those that fail while another has matched every token); `tol` is the gate-weight
    tolerance they were tallied with."""
    first = next(iter(gates.values()))
    counts = {g.experts for g in gates.values()}
    if len(counts) > 1:
        other = next(g for g in gates.values() if g.experts != first.experts)
        raise ContractError(f"{other.name}: {other.experts} experts, {first.name}: {first.experts}; captures of "
                            "per-layer expert counts are not written yet")
    if len(set(top_ks.values())) > 1:
        other = next(gates[b] for b, k in top_ks.items() if k != top_ks[first.block])
        raise ContractError(f"{other.name}: top-{top_ks[other.block]}, {first.name}: top-{top_ks[first.block]}; one "
                            "checkpoint holds routers of one top-k")
    if unseen:
        b = next(iter(unseen))
        reason = (f"{gates[b].name}: the model's own routing cannot be seen ({unseen[b]}), so the captured router "
                  "cannot be checked")
        if not unverified:
            raise ContractError(reason + "; --unverified writes it unchecked")
        key, scale = guessed_key(first, config)
        k = top_ks.get(first.block) or positive_count(first.setting(TOP_K_NAMES, config)) or 2
        routers = {b: make_router(g, key, k, scale) for b, g in gates.items()}
        notes = [key.describe(scale) + " (from the model's settings)", *left_out_notes(gates),
                 f"UNVERIFIED (--unverified): {reason}"]
        return routers, notes, {b: BlockCheck(0) for b in gates}, True

    order = keys[first.block]
    common = [key for key in order if all(key in tallies[b] for b in gates)]

    def scale_of(key: RuleKey) -> Optional[float]:
        values = {tallies[b][key].scale for b in gates if tallies[b][key].scale is not None}
        return values.pop() if len(values) == 1 else (1.0 if not values else None)

    notes_reason = ""
    exact = [key for key in common if all(tallies[b][key].exact for b in gates) and scale_of(key) is not None]
    if exact:
        key = exact[0]
        chosen, is_unverified = key, False
    else:
        def cost(key: RuleKey) -> Tuple[int, int]:
            t = [tallies[b][key] for b in gates]
            return sum(x.other_experts for x in t), sum(x.other_weights + x.unweighted for x in t)
        closest = min(common, key=lambda k: sum(cost(k))) if common else None
        if closest is None:
            raise ContractError(f"{first.name}: no rule could be tried on this gate")
        differ, weights = cost(closest)
        where = next(gates[b].name for b in gates if not tallies[b][closest].exact) if differ + weights else first.name
        largest = max(tallies[b][closest].largest for b in gates)
        unweighted = sum(tallies[b][closest].unweighted for b in gates)
        if unweighted and differ == 0 and weights == unweighted:
            reason = (f"{where}: the model hands its experts no gate weights to check against ({closest.describe()} "
                      "chooses its experts on every token)")
        else:
            total = n_tokens * len(gates)
            how = (f"the same experts on every token, other gate weights on {weights} of {total} token-blocks (by up "
                   f"to {largest:.3g})" if differ == 0 else f"other experts on {differ} of {total} token-blocks")
            why = mechanisms(gates, config) + (per_expert_scale(gates, [tallies[b][closest] for b in gates], tol)
                                                if differ == 0 else [])
            reason = (f"{where}: " + (f"{' and '.join(why)}, which the contract does not hold; " if why else "")
                      + "no routing rule of the contract reproduces what the model hands its experts; closest, "
                      f"{closest.describe(tallies[first.block][closest].scale or 1.0)}: {how}")
        if not unverified:
            raise ContractError(reason + "; --unverified writes the closest rule of the contract unchecked")
        chosen, is_unverified = closest, True
        notes_reason = f"UNVERIFIED (--unverified): {reason}"
    scale = scale_of(chosen) or 1.0
    routers = {b: make_router(g, chosen, top_ks[b], scale, (linears or {}).get(b)) for b, g in gates.items()}
    checks = {}
    for b in gates:
        t = tallies[b].get(chosen, Tally())
        checks[b] = BlockCheck(t.tokens, t.ties, t.largest, sources.get(b, ""), t.other_experts, t.other_weights)
    notes = [f"{chosen.describe(scale)}, top-{top_ks[first.block]} of {first.experts} experts"]
    if chosen.bias:
        notes.append(f"selection bias: each block's {chosen.bias} (expert_bias; nothing moves it here)")
    notes += left_out_notes(gates)
    if not is_unverified:
        ties = sum(c.ties for c in checks.values())
        largest_w = max((c.largest or 0.0) for c in checks.values())
        where = " and ".join(sorted({"what each block hands its experts" if c.source == "experts" else "each gate's output"
                                     for c in checks.values()}))
        notes.append(f"checked on every token against {where}: the same experts ({ties} choices at near-ties) and "
                     f"gate weights within {largest_w:.2g}")
    else:
        notes.append(notes_reason)
    return routers, notes, checks, is_unverified


def left_out_notes(gates: Dict[int, FoundGate]) -> List[str]:
    """run.json's note on the routers of attention experts left out of the capture (JetMoe), if any."""
    if not any(g.left_out for g in gates.values()):
        return []
    blocks = [b for b, g in gates.items() if g.left_out]
    first = next(g for g in gates.values() if g.left_out)
    return [f"left out: the routers of attention experts ({first.left_out[0]}, in {len(blocks)} of {len(gates)} blocks); "
            f"the file contract holds one router per block, so each block's MLP experts' router ({first.name}) is "
            "the one captured"]


#: Scoring functions a model's settings may name that the contract's routers do not compute.
OTHER_SCORES = {"sqrtsoftplus": "sqrt(softplus(logits))", "softplus": "softplus(logits)", "relu": "relu(logits)",
                "tanh": "tanh(logits)"}


def mechanisms(gates: Dict[int, FoundGate], config: Any) -> List[str]:
    """What a model's gates do that the contract does not hold, read from the gates' classes and the
    settings (for a refusal to name it): sparse-mixer gating (PhiMoE), experts chosen from a token-id
    table (DeepSeek-V4's hash-routed layers), a scoring function other than softmax or sigmoid."""
    found: List[str] = []
    first = next(iter(gates.values()))
    code = [type(m).forward for g in gates.values() for m in (g.module, g.watched) if m is not None]
    if any("sparsemixer" in getattr(getattr(f, "__code__", None), "co_names", ()) for f in code):
        jitter = first.setting(("router_jitter_noise",), config)
        within = f"2 x {jitter:g}" if isinstance(jitter, (int, float)) else "twice the router jitter"
        found.append(f"sparse-mixer gating (each chosen expert weighted by a softmax over only the logits within {within} "
                     "of its own, relative; the experts chosen before it masked out)")
    vocab = getattr(config, "vocab_size", None)
    hashed = [b for b, g in gates.items() for name, t in g.module.named_buffers(recurse=False)
              if not t.is_floating_point() and t.dim() == 2 and t.shape[0] == vocab]
    if hashed:
        table = next(name for name, t in gates[hashed[0]].module.named_buffers(recurse=False)
                     if not t.is_floating_point() and t.dim() == 2 and t.shape[0] == vocab)
        found.append(f"hash-routed layers (blocks {', '.join(map(str, hashed))} take their experts from a table of token "
                     f"ids, {table} [vocabulary, k], not from the gate)")
    score = first.setting(("scoring_func", "score_func", "router_score_function"), config)
    if isinstance(score, str) and score in OTHER_SCORES:
        found.append(f"{score} scores ({OTHER_SCORES[score]}; the contract scores by softmax or sigmoid)")
    return found


def per_expert_scale(gates: Dict[int, FoundGate], tallies: List[Tally], tol: float) -> List[str]:
    """When the model's gate weights are a rule's times a factor of each expert's own (Gemma 4's
    `router.per_expert_scale`), found from the ratios the tallies kept: [one line naming it, and the [E]
    vector beside the gate that holds those factors in every block, when one does], else []."""
    factors = []
    for t in tallies:
        if t.ratio_low is None or t.ratio_high is None:
            return []
        seen = torch.isfinite(t.ratio_low)
        low, high = t.ratio_low[seen], t.ratio_high[seen]
        if low.numel() < 2 or bool(((high - low).abs() > tol * (1 + high.abs())).any()):
            return []  # an expert's weights are not one factor times the rule's
        factor = torch.where(seen, (t.ratio_low + t.ratio_high) / 2, torch.nan)
        factors.append(factor)
    spread = max(float(f[torch.isfinite(f)].max() - f[torch.isfinite(f)].min()) for f in factors)
    if spread <= tol:
        return []  # one factor for every expert: a gate scale, not this
    holders = []
    for name in next(iter(gates.values())).vectors:
        if all(name in g.vectors for g in gates.values()) and all(
                bool((g.vectors[name].detach().reshape(-1).double().cpu() - f).abs()[torch.isfinite(f)].le(
                    tol * (1 + f.abs()[torch.isfinite(f)])).all()) for g, f in zip(gates.values(), factors)):
            holders.append(name)
    return ["a per-expert scale of the gate weights (each expert's weights the closest rule's times a factor of its "
            "own" + (f": {holders[0]} [E]" if holders else "") + ")"]
