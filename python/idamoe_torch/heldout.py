"""Held-out CV (docs/format.md, `eval` events): the top-1, top-k and gate-weighted expert loads of the
validation tokens per MoE layer, and their coefficients of variation, as `idamoe train` logs them."""
from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Sequence

import torch

from . import distributed
from .routing import RouterOutput


def max_violation(load: Sequence[float]) -> float:
    """MaxVio: the largest load over the mean load, minus 1 (0 when balanced); 0 for an empty or all-zero load."""
    if not load:
        return 0.0
    mean = sum(load) / len(load)
    return max(load) / mean - 1.0 if mean > 0 else 0.0


#: The quantiles `idamoe route`, the inspector and the event log report a distribution by (the Swift side's
#: `LayerMetrics.reportedQuantiles`), with their keys in a `load_quantiles` object.
REPORTED_QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))


def quantiles(values: Sequence[float], qs: Sequence[float]) -> List[float]:
    """The q-quantiles (q in [0, 1]) of `values` by linear interpolation between order statistics (rank
    q (n - 1), numpy's default; the Swift side's `LayerMetrics.quantiles`); 0 for no values."""
    if not values:
        return [0.0 for _ in qs]
    ordered = sorted(float(v) for v in values)
    out: List[float] = []
    for q in qs:
        rank = min(max(q, 0.0), 1.0) * (len(ordered) - 1)
        low = int(math.floor(rank))
        high = min(low + 1, len(ordered) - 1)
        out.append(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))
    return out


def load_quantiles(load: Sequence[float], round_to: Callable[[float], float]) -> Dict[str, float]:
    """The events' `load_quantiles`: {p50, p90, p99, max} of a load over the experts, each rounded by `round_to`."""
    values = quantiles(load, [q for _, q in REPORTED_QUANTILES])
    return {name: round_to(v) for (name, _), v in zip(REPORTED_QUANTILES, values)}


def coefficient_of_variation(load: Sequence[float]) -> float:
    """Standard deviation over mean of the load (0 for an empty or all-zero load)."""
    if not load:
        return 0.0
    mean = sum(load) / len(load)
    if mean <= 0:
        return 0.0
    return math.sqrt(sum((v - mean) ** 2 for v in load) / len(load)) / mean


def shares(counts: torch.Tensor) -> List[float]:
    """counts / their sum (all zeros when the sum is 0)."""
    total = float(counts.sum())
    return [float(c) / total if total > 0 else 0.0 for c in counts]


class HeldoutLoads:
    """Routing counts of validation tokens per MoE block: tokens, assignments (top-k), first choices
    (top-1) and gate sums per expert. Filled by `RunWriter.heldout()`'s hooks or by `add`."""

    def __init__(self, experts: Dict[int, int]) -> None:
        #: {block: E}.
        self.experts = dict(sorted(experts.items()))
        #: {block: [tokens, assignments [E], first choices [E], gate sums [E]]} as one float64 vector.
        self.counts: Dict[int, torch.Tensor] = {b: torch.zeros(1 + 3 * e, dtype=torch.float64)
                                                for b, e in self.experts.items()}

    def add(self, block: int, experts: torch.Tensor, weights: torch.Tensor) -> None:
        """Adds N routed tokens of `block`: experts [N, k] best first and their gate weights [N, k]."""
        if block not in self.counts:
            raise ValueError(f"HeldoutLoads: no router at block {block} (blocks {list(self.counts)})")
        e = self.experts[block]
        chosen = experts.detach().reshape(experts.shape[0], -1).cpu().long()
        gates = weights.detach().reshape(chosen.shape).cpu().double()
        c = self.counts[block]
        c[0] += chosen.shape[0]
        c[1:1 + e] += torch.bincount(chosen.reshape(-1), minlength=e).double()
        if chosen.numel():
            c[1 + e:1 + 2 * e] += torch.bincount(chosen[:, 0], minlength=e).double()
            c[1 + 2 * e:] += torch.bincount(chosen.reshape(-1), weights=gates.reshape(-1), minlength=e)

    def add_output(self, block: int, output: RouterOutput) -> None:
        """Adds one router forward's decisions."""
        self.add(block, output.experts, output.weights)

    def sum_over_ranks(self) -> "HeldoutLoads":
        """Under torch.distributed, replaces the counts with their sums over ranks (a collective: every rank
        calls it), for validation sharded over ranks. Returns self."""
        blocks = list(self.counts)
        summed = distributed.sum_over_ranks(torch.cat([self.counts[b] for b in blocks]))
        offset = 0
        for b in blocks:
            size = self.counts[b].numel()
            self.counts[b] = summed[offset:offset + size].clone()
            offset += size
        return self

    def fields(self, round_to: Callable[[float], float]) -> Dict[str, Any]:
        """The `eval` event's held-out fields from the counts (this rank's, or the sums after
        `sum_over_ranks`); empty when no block saw a token."""
        blocks = list(self.counts)
        summed = torch.cat([self.counts[b] for b in blocks])
        layers: List[Dict[str, Any]] = []
        cvs: List[List[float]] = []
        vios: List[List[float]] = []
        tokens = 0
        offset = 0
        for b in blocks:
            e = self.experts[b]
            c = summed[offset:offset + 1 + 3 * e]
            offset += 1 + 3 * e
            n = int(c[0])
            if n == 0:
                continue
            tokens = max(tokens, n)
            top1, topk, gate = [float(v) / n for v in c[1 + e:1 + 2 * e]], shares(c[1:1 + e]), shares(c[1 + 2 * e:])
            cv = [coefficient_of_variation(top1), coefficient_of_variation(topk), coefficient_of_variation(gate)]
            vio = [max_violation(top1), max_violation(topk), max_violation(gate)]
            cvs.append(cv)
            vios.append(vio)
            layers.append(dict(layer=b, cv_top1=round_to(cv[0]), cv_topk=round_to(cv[1]), cv_gate=round_to(cv[2]),
                               max_vio_top1=round_to(vio[0]), max_vio_topk=round_to(vio[1]), max_vio_gate=round_to(vio[2]),
                               load_topk=[round_to(v) for v in topk], load_gate=[round_to(v) for v in gate],
                               load_quantiles=load_quantiles(topk, round_to)))
        if not layers:
            return {}
        mean = [sum(cv[j] for cv in cvs) / len(cvs) for j in range(3)]
        vio_mean = [sum(v[j] for v in vios) / len(vios) for j in range(3)]
        return dict(heldout_tokens=tokens, heldout_cv_mean_top1=round_to(mean[0]),
                    heldout_cv_mean_topk=round_to(mean[1]), heldout_cv_mean_gate=round_to(mean[2]),
                    heldout_max_vio_mean_top1=round_to(vio_mean[0]), heldout_max_vio_mean_topk=round_to(vio_mean[1]),
                    heldout_max_vio_mean_gate=round_to(vio_mean[2]), layers=layers)
