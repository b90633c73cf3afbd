"""The linear-gate routers (Sources/IdaNumerics/SoftmaxRouter*.swift): gate logits W h (+ b), scores by
softmax (`SoftmaxRouter`, with the Switch auxiliary loss and the z-loss) or by sigmoid with a selection
bias moved toward balance after each step (`SigmoidBiasRouter`, DeepSeek-V3's auxiliary-loss-free
balancing); top-k, renormalised gates trained by the task loss.

`set_gate_options` gives either router the gates and choices of published models (docs/format.md,
"Routing, exactly"): unrenormalised gates (`norm_topk_prob = false`), a gate scale
(`routed_scaling_factor`), group-limited top-k (DeepSeek-V3's `n_group`, `topk_group`; DeepSeek-V2's
`group_limited_greedy` with `group_score="max"`) and a selection bias added to the logits rather than
the scores (`bias_on="logits"`, Kolibri). A `SoftmaxRouter(selection_bias=True)` chooses by probability
+ `expert_bias` (Ernie 4.5). `capture` sets them from what a model does; routers built for training
keep the defaults unless told otherwise."""
from __future__ import annotations

from typing import Dict, List, Optional

import torch
from torch import nn

from .layers import ContractError
from .routing import RouterOutput, StepStats, accumulate, entropy_bits, flatten_tokens, top_k


class LinearGateRouter(nn.Module):
    """What the linear-gate routers share: the gate layer [E, D] (+ [E]), the contract's limits, float32
    computation under autocast and the step statistics the RunWriter logs."""

    kind = "softmax"

    def __init__(self, hidden_dim: int, experts: int, top_k: int, bias: bool) -> None:
        super().__init__()
        if not 1 <= experts <= 1024:
            raise ContractError(f"experts must be 1...1024, got {experts}")
        if not 1 <= top_k <= experts:
            raise ContractError(f"top-k must be 1...{experts}, got {top_k}")
        self.hidden_dim = hidden_dim
        self.experts = experts
        self.top_k = top_k
        self.gate = nn.Linear(hidden_dim, experts, bias=bias)
        bound = 1.0 / float(hidden_dim) ** 0.5
        nn.init.uniform_(self.gate.weight, -bound, bound)
        if self.gate.bias is not None:
            nn.init.zeros_(self.gate.bias)
        #: Statistics of the training forwards since RunWriter.step (or `observe`) last took them
        #: (summed over micro-batches), None when there was none.
        self.step_stats: Optional[StepStats] = None
        self.gate_normalize = True
        self.gate_scale = 1.0
        self.expert_groups = 1
        self.group_top_k = 1
        self.group_score = "top2sum"
        self.bias_on = "scores"

    def set_gate_options(self, normalize: bool = True, scale: float = 1.0, groups: int = 1,
                         group_top_k: Optional[int] = None, group_score: str = "top2sum",
                         bias_on: str = "scores") -> None:
        """Gates = the selected scores renormalised (`normalize`) or as they are, times `scale`; with
        `groups` > 1 the experts form equal groups of consecutive indices and only those of the
        `group_top_k` best groups (default: all) may be chosen, a group scoring the sum of its two best
        selection scores (`group_score` "top2sum") or its best ("max"); a selection bias is added to the
        scores (`bias_on` "scores") or to the logits ("logits"). One-line errors as `idamoe route` gives
        for the same metadata."""
        if group_score not in ("top2sum", "max"):
            raise ContractError(f"group score {group_score!r} is not top2sum or max")
        if bias_on not in ("scores", "logits"):
            raise ContractError(f"selection bias target {bias_on!r} is not scores or logits")
        kept = groups if group_top_k is None else group_top_k
        if not (scale > 0 and scale != float("inf")):
            raise ContractError(f"gate scale must be finite and positive, got {scale}")
        if not (1 <= groups <= self.experts and self.experts % groups == 0):
            raise ContractError(f"{groups} expert groups do not divide {self.experts} experts evenly")
        if not 1 <= kept <= groups:
            raise ContractError(f"group top-k must be 1...{groups}, got {kept}")
        if kept * (self.experts // groups) < self.top_k:
            raise ContractError(f"{kept} of {groups} groups hold {kept * (self.experts // groups)} experts, fewer "
                                f"than top-k {self.top_k}")
        self.gate_normalize, self.gate_scale = bool(normalize), float(scale)
        self.expert_groups, self.group_top_k = int(groups), int(kept)
        self.group_score, self.bias_on = group_score, bias_on

    def metadata(self) -> Dict[str, str]:
        """The checkpoint `__metadata__` entries of this router (gate options only where not the defaults)."""
        meta = {"idamoe.router": self.kind, "idamoe.experts": str(self.experts), "idamoe.top_k": str(self.top_k)}
        if not self.gate_normalize:
            meta["idamoe.gate_normalize"] = "false"
        if self.gate_scale != 1.0:
            meta["idamoe.gate_scale"] = repr(self.gate_scale)
        if self.expert_groups != 1:
            meta["idamoe.expert_groups"] = str(self.expert_groups)
            meta["idamoe.group_top_k"] = str(self.group_top_k)
        if self.group_score != "top2sum":
            meta["idamoe.group_score"] = self.group_score
        if self.bias_on != "scores":
            meta["idamoe.selection_bias_on"] = self.bias_on
        return meta

    def choose(self, selection: torch.Tensor) -> torch.Tensor:
        """The top-k experts [N, k] by selection scores [N, E], best first, ties to the lower index; with
        group-limited routing only among the experts of the `group_top_k` best groups."""
        groups, kept = self.expert_groups, self.group_top_k
        if groups > 1 and kept < groups:
            n, size = selection.shape[0], self.experts // groups
            members = selection.reshape(n, groups, size)
            if self.group_score == "max":
                group_scores = members.max(dim=-1).values
            else:
                group_scores = members.topk(min(2, size), dim=-1).values.sum(dim=-1)
            best_groups, _ = top_k(group_scores, kept)
            eligible = torch.zeros(n, groups, dtype=torch.bool, device=selection.device).scatter_(1, best_groups, True)
            selection = selection.masked_fill(~eligible.repeat_interleave(size, dim=1), float("-inf"))
        experts, _ = top_k(selection, self.top_k)
        return experts

    def biased(self, scores: torch.Tensor, logits: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
        """The selection scores [N, E] (no gradient): scores, or with a selection bias scores + bias (logits +
        bias when `bias_on` is "logits")."""
        if bias is None:
            return scores.detach()
        base = logits if self.bias_on == "logits" else scores
        return base.detach() + bias.to(logits.device, torch.float64)

    def gate_weights(self, scores: torch.Tensor, experts: torch.Tensor) -> torch.Tensor:
        """Gates [N, k] from the scores [N, E] (no selection bias) of the chosen experts: renormalised
        unless `gate_normalize` is off, times `gate_scale` (differentiable)."""
        chosen = torch.gather(scores, 1, experts)
        if self.gate_normalize:
            chosen = chosen / chosen.sum(dim=1, keepdim=True)
        return chosen * self.gate_scale if self.gate_scale != 1.0 else chosen

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """W h + b [N, E] in the gate's precision, as float64."""
        x = flatten_tokens(h, self.hidden_dim, type(self).__name__)
        return self.gate(x.to(self.gate.weight.dtype)).double()

    def decide(self, logits: torch.Tensor) -> Dict[str, torch.Tensor]:
        """experts [N, k], weights [N, k], probabilities [N, E] (the expert distribution) from logits."""
        raise NotImplementedError

    def route(self, h: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Routing without training: experts, weights, probabilities [N, E], entropy_bits [N]; sigmoid-bias
        routers also scores (the sigmoids) and selection (scores + expert_bias) [N, E]."""
        with torch.no_grad():
            out = self.decide(self.logits(h))
            out["entropy_bits"] = entropy_bits(out["probabilities"])
            return out

    def forward(self, h: torch.Tensor) -> RouterOutput:  # type: ignore[override]
        """Routes h [..., D]; the gates carry the task loss's gradient to the gate layer and to h.
        Autocast is off inside: the gate computes in its own (float32) precision."""
        with torch.autocast(h.device.type, enabled=False):
            logits = self.logits(h)
            out = self.decide(logits)
            experts, weights = out["experts"], out["weights"]
            if not (self.training and torch.is_grad_enabled()):
                return RouterOutput(experts, weights.to(h.dtype), h.new_zeros(()))
            n = logits.shape[0]
            counts = torch.bincount(experts.reshape(-1), minlength=self.experts).double()
            stats = StepStats(tokens=n, expert_counts=counts.cpu(),
                              entropy_sum=float(entropy_bits(out["probabilities"].detach()).sum()))
            loss = self.training_loss(logits, out, counts, stats)
            self.step_stats = accumulate(self.step_stats, stats)
            return RouterOutput(experts, weights.to(h.dtype), loss.float())

    def training_loss(self, logits: torch.Tensor, out: Dict[str, torch.Tensor], counts: torch.Tensor,
                      stats: StepStats) -> torch.Tensor:
        """The router's own loss of a training forward (a zero tensor by default)."""
        return logits.new_zeros(())


class SoftmaxRouter(LinearGateRouter):
    """logits = W h (+ b) [N, E]; probabilities softmax(logits) in float64; top-k by probability (ties to
    the lower index); gates = the selected probabilities renormalised (differentiable).

    In training its loss is alpha * aux + beta * z with aux = E sum_e f_e P_e (f_e: share of the N*k
    assignments, constant; P_e: mean probability) and z = mean_n logsumexp(logits_n)^2.
    With `selection_bias` (Ernie 4.5) a buffer `expert_bias` [E] is added to the probabilities (or
    logits) for the choice only; it is not trained.
    state_dict names: `gate.weight` [E, D], `gate.bias` [E], `expert_bias` [E].
    """

    kind = "softmax"

    def __init__(self, hidden_dim: int, experts: int = 8, top_k: int = 2, bias: bool = False,
                 aux_loss: float = 0.0, z_loss: float = 0.0, selection_bias: bool = False) -> None:
        super().__init__(hidden_dim, experts, top_k, bias)
        self.aux_loss = float(aux_loss)
        self.z_loss = float(z_loss)
        self.expert_bias: Optional[torch.Tensor]
        if selection_bias:
            self.register_buffer("expert_bias", torch.zeros(experts, dtype=torch.float32))
        else:
            self.expert_bias = None

    def decide(self, logits: torch.Tensor) -> Dict[str, torch.Tensor]:
        probs = torch.softmax(logits, dim=1)
        experts = self.choose(self.biased(probs, logits, self.expert_bias))
        return dict(experts=experts, weights=self.gate_weights(probs, experts), probabilities=probs)

    def training_loss(self, logits: torch.Tensor, out: Dict[str, torch.Tensor], counts: torch.Tensor,
                      stats: StepStats) -> torch.Tensor:
        n, probs = logits.shape[0], out["probabilities"]
        f = counts / max(n * self.top_k, 1)
        aux = self.experts * (f * probs.mean(dim=0)).sum() if n else probs.new_zeros(())
        z = torch.logsumexp(logits, dim=1).pow(2).mean() if n else probs.new_zeros(())
        stats.aux, stats.z = float(aux.detach()), float(z.detach())
        return self.aux_loss * aux + self.z_loss * z


class SigmoidBiasRouter(LinearGateRouter):
    """Auxiliary-loss-free balancing (docs/format.md, "Routing, exactly"): scores s = sigmoid(W h + b) in
    float64; the top-k experts by s_e + expert_bias_e (l_e + expert_bias_e with `bias_on` "logits";
    ties to the lower index); gates = the selected s
    renormalised (differentiable; the bias only selects); expert distribution s / sum_e s_e.

    `expert_bias` [E] (float32, a buffer: no gradient) starts at 0; `observe` moves it by `bias_rate`
    after each optimizer step toward balance, as `idamoe train --router sigmoid-bias` does: up for an
    expert that took fewer than its fair share N k / E of the step's assignments, down for more,
    unchanged at exactly the fair share. No auxiliary or z loss.
    state_dict names: `gate.weight` [E, D], `gate.bias` [E], `expert_bias` [E].
    """

    kind = "sigmoid-bias"

    def __init__(self, hidden_dim: int, experts: int = 8, top_k: int = 2, bias: bool = False,
                 bias_rate: float = 0.001) -> None:
        super().__init__(hidden_dim, experts, top_k, bias)
        self.bias_rate = float(bias_rate)
        self.expert_bias: torch.Tensor
        self.register_buffer("expert_bias", torch.zeros(experts, dtype=torch.float32))

    def decide(self, logits: torch.Tensor) -> Dict[str, torch.Tensor]:
        scores = torch.sigmoid(logits)
        selection = self.biased(scores, logits, self.expert_bias)
        experts = self.choose(selection)
        return dict(experts=experts, weights=self.gate_weights(scores, experts),
                    probabilities=scores / scores.sum(dim=1, keepdim=True),
                    scores=scores, selection=selection)

    def observe(self, step: int, stats: Optional[StepStats] = None) -> List[object]:
        """After the optimizer step: moves `expert_bias` by the assignments of the training forwards since
        the last call (`stats`: counts summed over ranks, as RunWriter passes them; without it the local
        counts are summed over ranks here). Consumes `step_stats`; returns no events."""
        local, self.step_stats = self.step_stats, None
        if local is None:
            return []
        if stats is None:
            from .distributed import sum_over_ranks
            summed = sum_over_ranks(torch.cat([torch.tensor([float(local.tokens)], dtype=torch.float64),
                                               local.expert_counts.double()]))
            tokens, counts = int(summed[0]), summed[1:]
        else:
            tokens, counts = stats.tokens, stats.expert_counts
        self.update_bias(tokens, counts)
        return []

    @torch.no_grad()
    def update_bias(self, tokens: int, counts: torch.Tensor) -> None:
        """bias_e += rate where count_e * E < N * k, -= rate where it is greater (integers: exact)."""
        if tokens <= 0:
            return
        assignments = tokens * self.top_k
        scaled = [int(round(float(c))) * self.experts for c in counts]
        step = torch.tensor([1.0 if s < assignments else -1.0 if s > assignments else 0.0 for s in scaled],
                            dtype=torch.float32)
        self.expert_bias += (step * self.bias_rate).to(self.expert_bias.device)
