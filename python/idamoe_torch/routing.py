"""What a router's forward returns, the statistics it keeps for the event log, and top-k as the contract
defines it (ties to the lower index)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Sequence, Tuple

import torch


@dataclass
class RouterOutput:
    """One forward pass of a router over N = h.numel() / D tokens (leading dimensions flattened)."""

    #: Chosen experts [N, k], best first.
    experts: torch.Tensor
    #: Gate weights [N, k], summing to 1 per token, in h's dtype. IDA: no gradient (detached posteriors);
    #: softmax: differentiable (trained by the task loss).
    weights: torch.Tensor
    #: The router's own loss to add to the task loss (IDA: L_nll + lambda_rec L_rec + lambda_react L_react
    #: on the detached input; softmax: alpha aux + beta z); a zero tensor outside training.
    loss: torch.Tensor


@dataclass
class StepStats:
    """What one training forward measured, summed over tokens so that ranks can add them up."""

    tokens: int
    #: Assignments per expert [E] (N*k in total).
    expert_counts: torch.Tensor
    entropy_sum: float
    #: IDA: sum of -log p(z), sum of squared reconstruction errors and their count (N*D), L_react,
    #: tokens whose most probable component is k [K].
    nll_sum: Optional[float] = None
    rec_sum: Optional[float] = None
    rec_count: Optional[int] = None
    react: Optional[float] = None
    component_counts: Optional[torch.Tensor] = None
    #: Softmax: the unweighted auxiliary and z losses.
    aux: Optional[float] = None
    z: Optional[float] = None
    #: IDA, local to this rank: latents [N, P] and log-densities [N] for drawing reactivation targets.
    extras: Dict[str, torch.Tensor] = field(default_factory=dict)

    def merged(self, later: "StepStats") -> "StepStats":
        """The statistics of two forwards of one optimizer step (gradient accumulation): counts and sums
        added, the auxiliary and z losses weighted by tokens, L_react and the latents of the later one."""
        def add(a: Optional[float], b: Optional[float]) -> Optional[float]:
            return None if a is None or b is None else a + b

        def weighted(a: Optional[float], b: Optional[float]) -> Optional[float]:
            if a is None or b is None:
                return None
            return (a * self.tokens + b * later.tokens) / max(self.tokens + later.tokens, 1)

        components = None
        if self.component_counts is not None and later.component_counts is not None:
            components = self.component_counts + later.component_counts
        rec_count = None if self.rec_count is None or later.rec_count is None else self.rec_count + later.rec_count
        return StepStats(tokens=self.tokens + later.tokens, expert_counts=self.expert_counts + later.expert_counts,
                         entropy_sum=self.entropy_sum + later.entropy_sum, nll_sum=add(self.nll_sum, later.nll_sum),
                         rec_sum=add(self.rec_sum, later.rec_sum), rec_count=rec_count, react=later.react,
                         component_counts=components, aux=weighted(self.aux, later.aux), z=weighted(self.z, later.z),
                         extras=later.extras)


def accumulate(pending: Optional[StepStats], new: StepStats) -> StepStats:
    """`new`, merged into the statistics still pending from earlier forwards of the same step."""
    return new if pending is None else pending.merged(new)


def top_k(scores: torch.Tensor, k: int, temperature: float = 1.0) -> Tuple[torch.Tensor, torch.Tensor]:
    """(indices [N, k], renormalised scores [N, k]): the k largest scores, ties to the lower index; with a
    gate temperature T != 1 the scores to the power 1/T, renormalised (idamoe.gate_temperature)."""
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :k]
    selected = torch.gather(scores, 1, order)
    if temperature != 1.0:
        logs = torch.log(selected.double())
        tempered = torch.exp((logs - logs[:, :1]) / temperature)
        tempered = torch.where(selected > 0, tempered, torch.zeros_like(tempered))
        return order, (tempered / tempered.sum(dim=1, keepdim=True)).to(selected.dtype)
    return order, selected / selected.sum(dim=1, keepdim=True)


def entropy_bits(q: torch.Tensor) -> torch.Tensor:
    """-sum q log2 q per row [N] with 0 log 0 = 0 (float64)."""
    q = q.double()
    terms = torch.where(q > 0, q * torch.log2(torch.where(q > 0, q, torch.ones_like(q))), torch.zeros_like(q))
    return -terms.sum(dim=1)


def flatten_tokens(h: torch.Tensor, width: int, name: str) -> torch.Tensor:
    """h [..., D] as [N, D], with a one-line error when D is not `width`."""
    if h.dim() < 1 or h.shape[-1] != width:
        raise ValueError(f"{name} expects hidden width {width}, got shape {list(h.shape)}")
    return h.reshape(-1, width)


def combine_experts(route: RouterOutput, h: torch.Tensor, experts: Sequence[Callable[[torch.Tensor], torch.Tensor]]) -> torch.Tensor:
    """sum_j weights[n, j] * experts[experts[n, j]](h[n]) for h [N, D] routed by `route`: each expert runs
    once on the tokens sent to it; an expert without tokens does not run. Returns [N, D]."""
    out = torch.zeros_like(h)
    for e, expert in enumerate(experts):
        rows, slot = (route.experts == e).nonzero(as_tuple=True)
        if rows.numel():
            out.index_add_(0, rows, expert(h[rows]) * route.weights[rows, slot, None].to(h.dtype))
    return out
