"""The routing rules capture tries on a gate: the contract's routers (`softmax`, `sigmoid-bias`) with
every gate option a model might use (docs/format.md, "Gate options"): a selection bias found beside the
gate added to the scores or the logits, gates renormalised or not, a gate scale, expert groups scored by
their two best experts or their best. The candidates of one gate (`BlockRules`) share one float32 copy of
it, and a rule that fails is dropped from them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Tuple

import torch
from torch import nn

from .capture_gates import FoundGate, positive_count
from .layers import ContractError
from .softmax_router import LinearGateRouter, SigmoidBiasRouter, SoftmaxRouter


#: Where a model keeps its gate scale, groups and kept groups (gate, its parent, its block, the config).
SCALE_NAMES = ("routed_scaling_factor", "moe_routed_scaling_factor", "router_scaling_factor")
GROUP_NAMES = ("n_group", "num_group", "num_expert_group", "moe_n_group")
KEPT_GROUP_NAMES = ("topk_group", "num_topk_group", "moe_topk_group")
TOP_K_NAMES = ("top_k", "num_experts_per_tok", "moe_topk", "moe_k", "top_k_experts", "num_experts_per_token",
               "moe_top_k")


@dataclass(frozen=True)
class RuleKey:
    """One way of routing, the same for every block (the bias named by its path within the block): a
    router kind and gate options of the contract (docs/format.md, "Gate options")."""

    kind: str  # softmax | sigmoid-bias
    #: "" none (a sigmoid-bias router's zero bias; a softmax router without one), else the selection bias'
    #: path within the block: the sigmoid-bias router's `expert_bias`, or a softmax router's (Ernie 4.5).
    bias: str
    normalize: bool
    groups: int = 1
    group_top_k: int = 1
    #: `idamoe.group_score`: "top2sum" (DeepSeek-V3) or "max" (DeepSeek-V2's group_limited_greedy).
    group_score: str = "top2sum"
    #: `idamoe.selection_bias_on`: "scores", or "logits" (Kolibri: chosen by logit + bias).
    bias_on: str = "scores"

    def describe(self, scale: float = 1.0) -> str:
        score = "sigmoid" if self.kind == "sigmoid-bias" else "softmax"
        if self.bias and self.bias_on == "logits":
            parts = [f"{score}, chosen by logits + selection bias {self.bias}"]
        else:
            parts = [score + (f" + selection bias {self.bias}" if self.bias else "")]
        parts.append("gates renormalised" if self.normalize else "gates unrenormalised")
        if scale != 1.0:
            parts.append(f"times {scale:g}")
        if self.groups > 1 and self.group_top_k < self.groups:
            how = "its best expert" if self.group_score == "max" else "its two best"
            parts.append(f"the best {self.group_top_k} of {self.groups} expert groups (a group scored by {how})")
        return ", ".join(parts)


def gate_copy(gate: FoundGate) -> nn.Linear:
    """A float32 CPU copy of the gate: weight [E, D], and bias [E] when the gate has one."""
    weight: torch.Tensor = getattr(gate.module, "weight")
    b = getattr(gate.module, "bias", None)
    has_bias = isinstance(b, torch.Tensor) and tuple(b.shape) == (gate.experts,)
    with torch.device("meta"):  # no [E, D] allocated (and initialised) only to be replaced
        linear = nn.Linear(int(weight.shape[1]), gate.experts, bias=has_bias)
    linear.weight = nn.Parameter(weight.detach().to("cpu", torch.float32, copy=True))
    if has_bias and isinstance(b, torch.Tensor):
        linear.bias = nn.Parameter(b.detach().to("cpu", torch.float32, copy=True))
    return linear


def make_router(gate: FoundGate, key: RuleKey, top_k: int, scale: float = 1.0,
                linear: Optional[nn.Linear] = None) -> LinearGateRouter:
    """A router that routes by `key` on a float32 copy of the gate's weights (and bias, and selection
    bias): `linear` (from `gate_copy`, shared as it is, not copied) or a copy of its own."""
    linear = linear if linear is not None else gate_copy(gate)
    width, has_bias = int(linear.weight.shape[1]), linear.bias is not None
    bias_vector = (gate.vectors[key.bias].detach().reshape(-1).to("cpu", torch.float32, copy=True) if key.bias
                   else torch.zeros(gate.experts))
    router: LinearGateRouter
    with torch.device("meta"):  # the router's own gate is replaced by `linear`: allocate nothing for it
        if key.kind == "sigmoid-bias":
            # bias_rate 0: a captured bias is the model's, moved by nothing here (run.json says so).
            router = SigmoidBiasRouter(width, experts=gate.experts, top_k=top_k, bias=has_bias, bias_rate=0.0)
        else:
            router = SoftmaxRouter(width, experts=gate.experts, top_k=top_k, bias=has_bias, selection_bias=bool(key.bias))
    router.gate = linear
    if getattr(router, "expert_bias", None) is not None:
        router.expert_bias = bias_vector  # replaces the meta buffer
    router.set_gate_options(key.normalize, scale, key.groups, key.group_top_k, key.group_score, key.bias_on)
    return router.eval()


class BlockRules:
    """The rules still in the running on one gate, as routers sharing one float32 copy of it (`linear`):
    a block holds its gate once, however many rules are tried, and a rule dropped costs nothing."""

    def __init__(self, gate: FoundGate, keys: Iterable[RuleKey], top_k: int) -> None:
        self.linear = gate_copy(gate)
        self.routers: Dict[RuleKey, LinearGateRouter] = {}
        for key in keys:
            try:
                self.routers[key] = make_router(gate, key, top_k, linear=self.linear)
            except ContractError:
                continue  # options this gate cannot take (groups that do not divide E)

    def logits(self, rows: torch.Tensor) -> torch.Tensor:
        """W h + b [n, E] as float64, as every router of the block computes them."""
        return self.linear(rows.to(torch.float32)).double()

    def keep(self, keys: Iterable[RuleKey]) -> None:
        """Drops every rule but `keys`."""
        kept = set(keys)
        self.routers = {k: r for k, r in self.routers.items() if k in kept}


def _grouping(gate: FoundGate, config: Any) -> Tuple[int, int]:
    """(expert groups, kept groups) the model's settings name, (1, 1) when they name none that fits."""
    groups = positive_count(gate.setting(GROUP_NAMES, config)) or 1
    kept = positive_count(gate.setting(KEPT_GROUP_NAMES, config)) or groups
    if not (1 < groups <= gate.experts and gate.experts % groups == 0 and kept < groups):
        return 1, 1
    return groups, kept


def _group_scores(gate: FoundGate, config: Any) -> List[str]:
    """How a group may be scored, the one the settings suggest first (`topk_method` group_limited_greedy:
    its best expert; otherwise the sum of its two best); one way when every group holds one expert."""
    groups, _ = _grouping(gate, config)
    if groups == 1 or gate.experts // groups == 1:
        return ["top2sum"]
    method = gate.setting(("topk_method",), config)
    return ["max", "top2sum"] if method == "group_limited_greedy" else ["top2sum", "max"]


def candidate_keys(gate: FoundGate, config: Any) -> List[RuleKey]:
    """Every rule to try on this gate, in order of preference: softmax; sigmoid with each selection bias
    found beside the gate, then without; softmax with each selection bias (Ernie 4.5); sigmoid chosen by
    logits + each selection bias (Kolibri); each with the groups the model's settings name (scored both
    ways, the settings' way first), then without, and renormalised or not."""
    groups, kept = _grouping(gate, config)
    grouping = [(groups, kept, score) for score in _group_scores(gate, config)] if groups > 1 else []
    grouping.append((1, 1, "top2sum"))
    ways = ([("softmax", "", "scores")] + [("sigmoid-bias", v, "scores") for v in gate.vectors]
            + [("sigmoid-bias", "", "scores")] + [("softmax", v, "scores") for v in gate.vectors]
            + [("sigmoid-bias", v, "logits") for v in gate.vectors])
    return [RuleKey(kind, bias, normalize, g, t, score, bias_on)
            for kind, bias, bias_on in ways for g, t, score in grouping for normalize in (True, False)]


def guessed_key(gate: FoundGate, config: Any) -> Tuple[RuleKey, float]:
    """The rule the settings suggest (for `--unverified` captures of gates whose routing cannot be seen):
    sigmoid-bias when a selection bias sits beside the gate, renormalised unless `norm_topk_prob` is false."""
    bias = next(iter(gate.vectors), "")
    groups = positive_count(gate.setting(GROUP_NAMES, config)) or 1
    kept = positive_count(gate.setting(KEPT_GROUP_NAMES, config)) or groups
    if gate.experts % groups:
        groups = kept = 1
    scale = float(gate.setting(SCALE_NAMES, config) or 1.0)
    normalize = gate.setting(("norm_topk_prob",), config) is not False
    return RuleKey("sigmoid-bias" if bias else "softmax", bias, normalize, groups, kept,
                   _group_scores(gate, config)[0]), scale
