"""`python -m idamoe_torch capture`: the routers of a Hugging Face MoE causal LM and the hidden states that
reach them on a text, written as a one-snapshot run directory (docs/python.md, "Capturing a Hugging Face
model") that `idamoe inspect`, `idamoe diff`, `idamoe route` and `fit-ida` read.

Routers are found by structure, not by model name: a module's 2-D `weight` [E, D] (D the model's hidden
size) in a block that holds its E experts. How a gate routes is found from what the model does, not from
config keys: the text runs through the model with hooks on every gate (its input, its output) and on
every block's experts (the choices and gate weights the block hands them), and candidate rules of the
contract (softmax or sigmoid scores, a selection bias found beside the gate added to the scores or the
logits, renormalised or not, a gate scale, expert groups scored by their two best experts or their best)
are compared with the model's own routing on every token, streamed window by window. The first rule
that reproduces every block on every token is written; a model no rule reproduces, or whose routing
cannot be seen, is refused with one line naming what differs, unless `unverified` is asked for, and then
run.json's `capture.unverified` says so.
"""
from __future__ import annotations

import importlib.util
import inspect
import math
import os
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, TextIO, Tuple

import torch
from torch import nn

from .layers import ContractError
from .run_lock import check_new_run_directory
from .run_writer import RunWriter
from .softmax_router import LinearGateRouter, SigmoidBiasRouter, SoftmaxRouter

#: Scores closer than this (relative) count as tied: either expert may be chosen. A model run in half
#: precision rounds its gate logits (bfloat16: 2^-8 relative), so its near-ties are wider.
TIE_RTOL = {torch.float32: 1e-5, torch.float64: 1e-5, torch.bfloat16: 2e-2, torch.float16: 5e-3}
#: Gate weights must agree with the model's within this (absolute and relative) on tokens whose experts
#: agree; half precision rounds the model's logits and its weights.
WEIGHT_TOL = {torch.float32: 1e-4, torch.float64: 1e-4, torch.bfloat16: 5e-2, torch.float16: 1e-2}
#: The precisions `--dtype` names.
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
#: Where a model keeps its gate scale, groups and kept groups (gate, its parent, its block, the config).
SCALE_NAMES = ("routed_scaling_factor", "moe_routed_scaling_factor", "router_scaling_factor")
GROUP_NAMES = ("n_group", "num_group", "num_expert_group", "moe_n_group")
KEPT_GROUP_NAMES = ("topk_group", "num_topk_group", "moe_topk_group")
TOP_K_NAMES = ("top_k", "num_experts_per_tok", "moe_topk", "moe_k", "top_k_experts", "num_experts_per_token",
               "moe_top_k")
#: The contract's expert limit (docs/format.md, "Limits").
MAX_EXPERTS = 1024


class ForwardError(ContractError):
    """The model's own forward raised: which module, and the underlying message."""


# ----------------------------------------------------------------------------------------------
# structure: where the gates are


@dataclass
class FoundGate:
    """One MoE router of the model: the module owning the gate weight [E, D], and the block around it."""

    #: Transformer block index (the last integer of the gate's module path).
    block: int
    #: Module path of the gate weight's owner, e.g. `model.layers.3.mlp.gate`.
    name: str
    module: nn.Module
    #: The module holding the E experts this gate chooses among, e.g. `model.layers.3.mlp`.
    block_name: str
    block_module: nn.Module
    experts: int
    #: [E] tensors beside the gate (a selection bias, when the model has one), by path relative to the block.
    vectors: Dict[str, torch.Tensor] = field(default_factory=dict)
    #: Modules whose attributes hold the gate's settings, nearest first (gate, its parents up to the block).
    holders: List[nn.Module] = field(default_factory=list)

    def setting(self, names: Sequence[str], config: Any = None) -> Any:
        """The first of the attributes `names` set on the gate, its parents, its block or the config."""
        for holder in [*self.holders, config]:
            for name in names:
                value = getattr(holder, name, None) if holder is not None else None
                if value is not None and not isinstance(value, (nn.Module, torch.Tensor)):
                    return value
        return None


def _count(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None


def expert_count(module: nn.Module) -> Optional[int]:
    """How many routed experts `module` holds by its structure: an `experts` child (a list, a module that
    says how many, or fused weights [E, ...]), or a direct child of fused expert weights [E, ...]."""
    experts = getattr(module, "experts", None)
    if isinstance(experts, (nn.ModuleList, list, tuple)):
        return len(experts)
    if isinstance(experts, nn.Module):
        for attr in ("num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts"):
            if _count(getattr(experts, attr, None)):
                return int(getattr(experts, attr))
        for p in experts.parameters():
            if p.dim() == 3:
                return int(p.shape[0])
        return None
    for child in module.children():  # experts named as such, held as fused weights (JetMoe's ParallelExperts)
        if "expert" in type(child).__name__.lower():
            for p in child.parameters(recurse=False):
                if p.dim() == 3 and p.shape[0] >= 2:
                    return int(p.shape[0])
    return None


def find_gates(model: nn.Module, hidden_size: int) -> Dict[int, FoundGate]:
    """{block: gate} for every MoE router of `model`: a `weight` [E, D] (2 <= E <= 1024, D = `hidden_size`)
    whose parent or grandparent holds E experts, outside the experts themselves. One-line errors: no
    router (naming the modules that came closest), two routers in one block, a path without a block index."""
    modules = dict(model.named_modules())
    found: Dict[int, FoundGate] = {}
    blocks_seen: Dict[str, int] = {}
    near: List[str] = []
    for name, module in modules.items():
        count = expert_count(module)
        if count and count >= 2:
            blocks_seen[name] = count
    for name, module in modules.items():
        weight = getattr(module, "weight", None)
        if not isinstance(weight, torch.Tensor) or weight.dim() != 2 or weight.shape[1] != hidden_size:
            continue
        experts = int(weight.shape[0])
        if not 2 <= experts <= MAX_EXPERTS:
            continue
        parts = name.split(".")
        block_name = None
        for up in (1, 2):
            candidate = ".".join(parts[:-up])
            if len(parts) > up and blocks_seen.get(candidate) == experts:
                block_name = candidate
                break
        if block_name is None:
            if re.search(r"gate|router|\bwg\b", name.split(".", 2)[-1]):
                beside = [f"{b} holds {e}" for b, e in blocks_seen.items() if name.startswith(b + ".")]
                near.append(f"{name}.weight {list(weight.shape)} ({'; '.join(beside) or 'no experts beside it'})")
            continue
        inner = name[len(block_name) + 1:]
        if inner.split(".")[0] == "experts" or "shared" in inner:
            continue
        numbers = re.findall(r"(?:^|\.)(\d+)(?=\.|$)", name)
        if not numbers:
            raise ContractError(f"{name}: no block index in the gate's module path")
        block = int(numbers[-1])
        if block in found:
            raise ContractError(f"{name} and {found[block].name}: two routers in block {block}; the file contract holds "
                                "one router per block")
        holders = [modules[".".join(parts[:len(parts) - up])] for up in range(0, len(parts) - block_name.count("."))]
        gate = FoundGate(block, name, module, block_name, modules[block_name], experts, holders=holders)
        gate.vectors = _selection_vectors(gate)
        found[block] = gate
    if not found:
        lonely = [f"{b} holds {e} experts but no gate weight [{e}, {hidden_size}] beside them" for b, e in blocks_seen.items()
                  if not any(n.startswith(b + ".") for n in near)]
        closest = "; ".join(_one_per_layer(near + lonely)[:3])
        raise ContractError("no MoE router found (a gate weight [E, D] in a block holding its E experts)"
                            + (f"; closest: {closest}" if closest else "; no module holds experts"))
    return dict(sorted(found.items()))


def _one_per_layer(lines: List[str]) -> List[str]:
    """`lines` without those that differ from an earlier one only in their numbers (the same module in
    another layer)."""
    seen, out = set(), []
    for line in lines:
        shape = re.sub(r"\d+", "N", line)
        if shape not in seen:
            seen.add(shape)
            out.append(line)
    return out


def _selection_vectors(gate: FoundGate) -> Dict[str, torch.Tensor]:
    """[E] (or [1, E]) buffers and parameters of the block outside its experts, shared experts and norms,
    other than the gate's own bias: where a model keeps a selection bias."""
    out: Dict[str, torch.Tensor] = {}
    own_bias = getattr(gate.module, "bias", None)
    tensors = list(gate.block_module.named_parameters()) + list(gate.block_module.named_buffers())
    for name, t in tensors:
        if t is own_bias or name.split(".")[0] == "experts" or "shared" in name or "norm" in name:
            continue
        if t.is_floating_point() and t.numel() == gate.experts and t.dim() in (1, 2) and t.shape[-1] == gate.experts:
            out[name] = t
    return out


# ----------------------------------------------------------------------------------------------
# rules: the contract's routers, configured every way the model might route


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


def make_router(gate: FoundGate, key: RuleKey, top_k: int, scale: float = 1.0) -> LinearGateRouter:
    """A router holding a float32 copy of the gate's weights (and bias, and selection bias) that routes by
    `key`."""
    weight: torch.Tensor = getattr(gate.module, "weight")
    w = weight.detach().float().cpu()
    b = getattr(gate.module, "bias", None)
    has_bias = isinstance(b, torch.Tensor) and tuple(b.shape) == (gate.experts,)
    bias_vector = gate.vectors[key.bias].detach().reshape(-1).float().cpu() if key.bias else torch.zeros(gate.experts)
    router: LinearGateRouter
    if key.kind == "sigmoid-bias":
        # bias_rate 0: a captured bias is the model's, moved by nothing here (run.json says so).
        sigmoid = SigmoidBiasRouter(int(w.shape[1]), experts=gate.experts, top_k=top_k, bias=has_bias, bias_rate=0.0)
        sigmoid.expert_bias.copy_(bias_vector)
        router = sigmoid
    else:
        softmax = SoftmaxRouter(int(w.shape[1]), experts=gate.experts, top_k=top_k, bias=has_bias,
                                selection_bias=bool(key.bias))
        if softmax.expert_bias is not None:
            softmax.expert_bias.copy_(bias_vector)
        router = softmax
    router.set_gate_options(key.normalize, scale, key.groups, key.group_top_k, key.group_score, key.bias_on)
    with torch.no_grad():
        router.gate.weight.copy_(w)
        if has_bias and router.gate.bias is not None and isinstance(b, torch.Tensor):
            router.gate.bias.copy_(b.detach().float().cpu())
    return router.eval()


def _grouping(gate: FoundGate, config: Any) -> Tuple[int, int]:
    """(expert groups, kept groups) the model's settings name, (1, 1) when they name none that fits."""
    groups = _count(gate.setting(GROUP_NAMES, config)) or 1
    kept = _count(gate.setting(KEPT_GROUP_NAMES, config)) or groups
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
    groups = _count(gate.setting(GROUP_NAMES, config)) or 1
    kept = _count(gate.setting(KEPT_GROUP_NAMES, config)) or groups
    if gate.experts % groups:
        groups = kept = 1
    scale = float(gate.setting(SCALE_NAMES, config) or 1.0)
    normalize = gate.setting(("norm_topk_prob",), config) is not False
    return RuleKey("sigmoid-bias" if bias else "softmax", bias, normalize, groups, kept,
                   _group_scores(gate, config)[0]), scale


# ----------------------------------------------------------------------------------------------
# the model's own routing, as its blocks hand it to their experts


Choices = Tuple[torch.Tensor, Optional[torch.Tensor]]


def _rows(t: torch.Tensor, n: int) -> Optional[torch.Tensor]:
    return t.reshape(n, -1) if n > 0 and t.numel() % n == 0 else None


def experts_call(args: Sequence[Any], kwargs: Dict[str, Any], experts: int) -> Optional[Tuple[int, Choices]]:
    """(rows, (experts [N, k], gate weights [N, k])) from the arguments of an experts module's call
    `experts(hidden [N, D], indices [N, k], weights [N, k] or [N, E])`; None when the call does not look so."""
    tensors = [a for a in list(args) + list(kwargs.values()) if isinstance(a, torch.Tensor)]
    if len(tensors) < 3 or not tensors[0].is_floating_point():
        return None
    n = tensors[0].reshape(-1, tensors[0].shape[-1]).shape[0]
    index = next((t for t in tensors[1:] if not t.is_floating_point() and t.dtype != torch.bool), None)
    if index is None:
        return None
    idx = _rows(index, n)
    if idx is None or not 1 <= idx.shape[1] <= experts:
        return None
    k = idx.shape[1]
    for t in tensors[1:]:
        if t.is_floating_point():
            w = _rows(t, n)
            if w is not None and w.shape[1] == k:
                return n, (idx.detach().cpu().long(), w.detach().cpu().double())
            if w is not None and w.shape[1] == experts:
                return n, (idx.detach().cpu().long(), torch.gather(w.detach().cpu().double(), 1, idx.detach().cpu().long()))
    return n, (idx.detach().cpu().long(), None)


def gate_output(output: Any, n: int, experts: int) -> Optional[Choices]:
    """(experts [N, k], gate weights [N, k] or None) from a gate's own output: an integer [N, k] with its
    float [N, k] just before it (transformers' top-k routers: logits, weights, indices); a float [N, E]
    with the same k < E non-zeros on every row (scores of the chosen experts, zero elsewhere: Llama 4);
    or a dispatch sorted by expert (order, token rows [N k], gates [N k], per-expert counts: JetMoe)."""
    items = list(output) if isinstance(output, (tuple, list)) else [output]
    for i in range(len(items) - 1, -1, -1):
        item = items[i]
        if isinstance(item, torch.Tensor) and not item.is_floating_point() and item.dim() >= 1:
            idx = _rows(item, n)
            if idx is None or not 1 <= idx.shape[1] < experts or item.shape[-1] != idx.shape[1]:
                continue
            before = items[i - 1] if i > 0 else None
            weights = None
            if isinstance(before, torch.Tensor) and before.is_floating_point() and before.numel() == idx.numel():
                weights = before.detach().reshape(n, -1).cpu().double()
            return idx.detach().cpu().long(), weights
    for item in items:
        if isinstance(item, torch.Tensor) and item.is_floating_point() and item.numel() == n * experts:
            dense = item.detach().reshape(n, experts).cpu().double()
            chosen = dense != 0
            counts = chosen.sum(dim=1)
            k = int(counts[0]) if n else 0
            if 0 < k < experts and bool((counts == k).all()):
                idx = chosen.nonzero()[:, 1].reshape(n, k)
                return idx, torch.gather(dense, 1, idx)
    sizes = next((x for x in items if isinstance(x, (list, tuple)) and len(x) == experts
                  and all(isinstance(v, int) for v in x)), None)
    ints = [x for x in items if isinstance(x, torch.Tensor) and not x.is_floating_point() and x.dim() == 1]
    floats = [x for x in items if isinstance(x, torch.Tensor) and x.is_floating_point() and x.dim() == 1]
    if sizes is not None and len(ints) >= 2 and floats and n and sum(sizes) % n == 0 and sum(sizes) == ints[1].numel():
        k = sum(sizes) // n
        expert = torch.repeat_interleave(torch.arange(experts), torch.tensor(sizes))
        token = ints[1].detach().cpu().long()
        order = torch.argsort(token * experts + expert)
        if bool((token[order].reshape(n, k) == torch.arange(n)[:, None]).all()):
            return expert[order].reshape(n, k), floats[0].detach().cpu().double()[order].reshape(n, k)
    return None


# ----------------------------------------------------------------------------------------------
# checking: every rule against the model's own routing, window by window


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


class _Watch:
    """One gate's hooks: its input rows and the model's own choices of the current batch."""

    def __init__(self, gate: FoundGate, width: int) -> None:
        self.gate = gate
        self.width = width
        self.rows: List[torch.Tensor] = []
        self.called: List[Optional[Choices]] = []
        self.returned: List[Optional[Choices]] = []
        self.called_rows: List[int] = []

    def pre(self, _m: nn.Module, args: tuple, kwargs: dict) -> None:
        h = args[0] if args else next(iter(kwargs.values()))
        self.rows.append(h.detach().reshape(-1, self.width))

    def post(self, _m: nn.Module, _args: tuple, _kwargs: dict, output: Any) -> None:
        n = self.rows[-1].shape[0] if self.rows else 0
        self.returned.append(gate_output(output, n, self.gate.experts))

    def experts_pre(self, _m: nn.Module, args: tuple, kwargs: dict) -> None:
        decoded = experts_call(args, kwargs, self.gate.experts)
        self.called_rows.append(decoded[0] if decoded else -1)
        self.called.append(decoded[1] if decoded else None)

    def take(self) -> Tuple[torch.Tensor, Optional[Choices], str, str]:
        """(input rows [n, D] float32 on the CPU, the model's choices or None, their source, why none)."""
        rows = torch.cat([r.to("cpu", torch.float32) for r in self.rows]) if self.rows else torch.zeros(0, self.width)
        n = rows.shape[0]
        choices: Optional[Choices] = None
        source, why = "", ""
        if self.called and all(c is not None for c in self.called) and sum(self.called_rows) == n:
            parts = [c for c in self.called if c is not None]
            source = "experts"
        elif self.returned and len(self.returned) == len(self.rows) and all(c is not None for c in self.returned):
            parts = [c for c in self.returned if c is not None]
            source = "gate"
        else:
            parts = []
            why = (f"its experts took {len(self.called)} calls for {len(self.rows)} gate calls" if self.called
                   and len(self.called) != len(self.rows) else "neither its experts' arguments nor the gate's output "
                   "hold the choices")
        if parts:
            idx = torch.cat([p[0] for p in parts])
            weights = [p[1] for p in parts]
            choices = (idx, torch.cat([w for w in weights if w is not None]) if all(w is not None for w in weights) else None)
        self.rows, self.called, self.returned, self.called_rows = [], [], [], []
        return rows, choices, source, why


# ----------------------------------------------------------------------------------------------
# running the model


def _failing_module(error: BaseException, names: Dict[int, str]) -> str:
    """The innermost module of the model whose code was running when `error` was raised."""
    where = ""
    tb = error.__traceback__
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        if isinstance(owner, nn.Module) and id(owner) in names:
            where = f"{names[id(owner)] or '<model>'} ({type(owner).__name__})"
        tb = tb.tb_next
    return where


class Progress:
    """One progress line on stderr for long captures: redrawn in place on a terminal, else one line every
    30 s once the capture has run for 10 s."""

    def __init__(self, total: int, stream: TextIO = sys.stderr, after: float = 10.0, every: float = 30.0) -> None:
        self.total, self.stream, self.start = total, stream, time.monotonic()
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.next = self.start + (0.5 if self.tty else after)
        self.every = 0.5 if self.tty else every
        self.shown = False

    def update(self, done: int) -> None:
        now = time.monotonic()
        if now < self.next:
            return
        self.next = now + self.every
        rate = done / max(now - self.start, 1e-9)
        left = (self.total - done) / rate if rate > 0 else float("inf")
        eta = f"{int(left // 60)}:{int(left % 60):02d}" if math.isfinite(left) else "?"
        line = f"capture: {done:,} of {self.total:,} tokens ({100 * done / max(self.total, 1):.0f}%), {rate:,.0f} tokens/s, {eta} left"
        self.stream.write(("\r\x1b[K" + line) if self.tty else line + "\n")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.tty and self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def resolve_device(device: Optional[str]) -> str:
    """`cpu` or `cuda` (default: cuda when a GPU is present, else the CPU); cuda without a GPU is an error."""
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ContractError(f"--device {device}: cpu or cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ContractError(f"--device {device}: no CUDA device is available to PyTorch here (use --device cpu)")
    return device


# ----------------------------------------------------------------------------------------------
# tokens


@dataclass
class Tokens:
    """The text as model token ids, and how to show them."""

    ids: List[int]
    #: `bytes` or the token strings by id (docs/format.md, "Probes").
    vocab: Any
    #: Where the ids came from, shown as the probe's domain name: `tokenizer` or `bytes, no tokenizer`.
    source: str


def vocabulary(tokenizer: Any) -> List[str]:
    """A probe's `idamoe.vocab` from a Hugging Face tokenizer: every id's text, decoded one id at a time."""
    return [str(t) for t in tokenizer.batch_decode([[i] for i in range(len(tokenizer))])]


def tokenize(model_dir: str, text: str, vocab_size: int) -> Tokens:
    """The model's tokenizer on `text` when DIR holds one (token strings decoded one id at a time), else
    the UTF-8 bytes as ids (needs a vocabulary of at least 256)."""
    from transformers import AutoTokenizer

    tokenizer = None
    names = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")
    if any(os.path.exists(os.path.join(model_dir, n)) for n in names):
        tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    if tokenizer is not None:
        ids = [int(i) for i in tokenizer(text)["input_ids"]]
        return Tokens(ids, vocabulary(tokenizer), "tokenizer")
    if vocab_size < 256:
        raise ContractError(f"{model_dir}: no tokenizer and a vocabulary of {vocab_size} (< 256): the text's bytes "
                            "cannot be its token ids")
    return Tokens(list(text.encode("utf-8")), "bytes", "bytes, no tokenizer")


# ----------------------------------------------------------------------------------------------
# capture


@dataclass
class CaptureReport:
    """What `capture` wrote and checked."""

    out: str
    tokens: int
    gates: Dict[int, FoundGate]
    token_source: str
    checks: Dict[int, BlockCheck]
    #: The router kind written (`softmax` or `sigmoid-bias`) and its routing in words.
    kind: str
    rule: str
    notes: List[str]
    #: True when written with `unverified` and not checked (or not matched) on every token.
    unverified: bool = False
    #: Tokens per second through the model (the forward passes alone).
    tokens_per_second: float = 0.0


def _load(model_dir: str, dtype: torch.dtype, device: Optional[str], device_map: Optional[str]) -> Tuple[Any, nn.Module, str]:
    """(config, the model in eval mode, where its inputs go)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    if not os.path.isdir(model_dir):
        raise ContractError(f"{model_dir}: not a directory (a Hugging Face model saved with save_pretrained)")
    config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
    if device_map is not None:
        if device_map != "auto":
            raise ContractError(f"--device-map {device_map}: only auto (accelerate spreads the model over the devices)")
        if importlib.util.find_spec("accelerate") is None:
            raise ContractError("--device-map auto needs the accelerate package: pip install accelerate")
        model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True, dtype=dtype, device_map="auto").eval()
        first = model.get_input_embeddings().weight.device
        return config, model, str(first)
    where = resolve_device(device)
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True, dtype=dtype).eval()
    return config, model.to(where), where


def capture(model_dir: str, text: str, out: str, *, max_tokens: int = 2048, window: int = 256, batch: int = 4,
            dtype: torch.dtype = torch.float32, device: Optional[str] = None, device_map: Optional[str] = None,
            unverified: bool = False, log: Callable[[str], None] = lambda _: None,
            progress: Optional[Progress] = None) -> CaptureReport:
    """Loads the causal LM in `model_dir` (local files only), runs the first `max_tokens` tokens of `text`
    through it in windows of `window` tokens (`batch` windows a forward), finds how each gate routes by
    comparing rules of the contract with what each block hands its experts on every token, and writes run
    directory `out`: the routers (snapshot step 0) and the hidden states that reached them (its probe),
    documents = windows. Refuses (one-line ContractError) an `out` that is not a new path or an empty
    directory before the model loads, a model whose routing no rule reproduces on every token or cannot
    be seen, unless `unverified`, and names the module when the model's own forward fails."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # stderr holds errors (and the progress line) only
    if window < 1 or max_tokens < 1 or batch < 1:
        raise ContractError(f"window ({window}), batch ({batch}) and max tokens ({max_tokens}) must be at least 1")
    if dtype not in WEIGHT_TOL:
        raise ContractError(f"dtype {dtype}: float32, bfloat16 or float16")
    check_new_run_directory(out)  # before the model loads; RunWriter checks again as it creates the run
    config, model, where = _load(model_dir, dtype, device, device_map)
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    hidden_size = int(text_config.hidden_size)
    gates = find_gates(model, hidden_size)
    positions = getattr(text_config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        window = min(window, positions)  # each window is one sequence the model can take
    tokens = tokenize(model_dir, text, int(text_config.vocab_size))
    ids = tokens.ids[:max_tokens]
    if not ids:
        raise ContractError("the text gives no tokens")
    n_tokens = len(ids)
    log(f"{len(gates)} MoE routers over {next(iter(gates.values())).experts} experts in blocks "
        f"{','.join(map(str, gates))}; {n_tokens} tokens ({tokens.source}), windows of {window}, {batch} a forward, "
        f"{str(dtype).replace('torch.', '')} on {where}")

    windows = [ids[s:s + window] for s in range(0, n_tokens, window)]
    documents = torch.cat([torch.full((len(p),), i, dtype=torch.int64) for i, p in enumerate(windows)])
    routing = check_routing(model, gates, windows, text_config, device=where, dtype=dtype, batch=batch,
                            unverified=unverified, progress=progress or Progress(n_tokens))
    written, notes, checks, is_unverified = routing.routers, routing.notes, routing.checks, routing.unverified
    probe, forward_seconds = routing.hidden, routing.forward_seconds
    source = {"modelDir": os.path.abspath(model_dir),
              "architecture": (getattr(config, "architectures", None) or [type(model).__name__])[0],
              "gates": {str(b): g.name for b, g in gates.items()}, "notes": notes, "tokens": tokens.source, "window": window}
    if is_unverified:
        source["unverified"] = True
    parameters = sum(p.numel() for p in model.parameters())
    del model  # the probe and the written routers are all that is kept
    writer = RunWriter(out, written, probe_tokens=torch.tensor(ids, dtype=torch.int64), probe_forward=lambda _t: None,
                       probe_documents=documents, probe_domains=torch.zeros(n_tokens, dtype=torch.int64),
                       domain_names=[tokens.source], vocab=tokens.vocab, capture=source, parameters=parameters)
    with writer:
        writer.snapshot(0, hidden=probe)
        writer.finish(0)
    kind = next(iter(written.values())).kind
    return CaptureReport(out, n_tokens, gates, tokens.source, checks, kind, notes[0], notes, is_unverified,
                         n_tokens / forward_seconds if forward_seconds > 0 else 0.0)


@dataclass
class Routing:
    """How a model routes, found by `check_routing` on token windows: the routers of the rule that
    reproduces it (or, `unverified`, the closest), what was checked, and what reached the gates."""

    #: {block: router} of one rule, holding float32 copies of the gates as they were.
    routers: Dict[int, LinearGateRouter]
    #: run.json's `capture.notes`: the rule, the selection bias, what was checked (or why unverified).
    notes: List[str]
    checks: Dict[int, BlockCheck]
    #: True when no rule of the contract reproduces the model on every token (only with `unverified`).
    unverified: bool
    #: {block: router inputs [N, D] float32 on the CPU}, the windows' tokens in order.
    hidden: Dict[int, torch.Tensor]
    #: Where each block's own choices were read: `experts` (what the block hands its experts) or `gate`.
    sources: Dict[int, str]
    #: Blocks whose own choices could not be seen, and why.
    unseen: Dict[int, str]
    #: {block: (experts [N, k] best first, gate weights [N, k] or None)}: the model's own choices, when asked.
    choices: Dict[int, Choices]
    #: Seconds in the model's forward passes.
    forward_seconds: float


def check_routing(model: nn.Module, gates: Dict[int, FoundGate], windows: List[List[int]], config: Any, *, device: str,
                  dtype: torch.dtype = torch.float32, batch: int = 4, unverified: bool = False, keep_choices: bool = False,
                  progress: Optional[Progress] = None) -> Routing:
    """Runs `windows` of token ids through `model` (each window one sequence, `batch` of equal length a
    forward, gradients off, on `device`) with hooks on every gate (`find_gates`) and its block's experts,
    and compares every candidate rule of the contract with the model's own routing on every token
    (`dtype`'s tolerances). One-line ContractError as `capture` gives them (no rule reproduces the model,
    its routing cannot be seen, unless `unverified`); the model's own failure is a ForwardError naming
    the module. `keep_choices` keeps the model's own choices of every token."""
    hidden_size = next(iter(gates.values())).module.weight.shape[1]  # type: ignore[union-attr]
    n_tokens = sum(len(w) for w in windows)
    watches = {b: _Watch(g, int(hidden_size)) for b, g in gates.items()}
    probe = {b: torch.empty(n_tokens, int(hidden_size), dtype=torch.float32) for b in gates}
    kept: Dict[int, List[Choices]] = {b: [] for b in gates}
    filled = {b: 0 for b in gates}
    keys = {b: candidate_keys(g, config) for b, g in gates.items()}
    routers: Dict[int, Dict[RuleKey, LinearGateRouter]] = {}
    tallies: Dict[int, Dict[RuleKey, Tally]] = {b: {} for b in gates}
    sources: Dict[int, str] = {}
    unseen: Dict[int, str] = {}
    top_ks: Dict[int, int] = {}
    tie_rtol, tol = TIE_RTOL.get(dtype, TIE_RTOL[torch.float32]), WEIGHT_TOL.get(dtype, WEIGHT_TOL[torch.float32])
    handles = []
    for b, g in gates.items():
        w = watches[b]
        handles.append(g.module.register_forward_pre_hook(w.pre, with_kwargs=True))
        handles.append(g.module.register_forward_hook(w.post, with_kwargs=True))
        experts = getattr(g.block_module, "experts", None)
        if isinstance(experts, nn.Module) and not isinstance(experts, nn.ModuleList):
            handles.append(experts.register_forward_pre_hook(w.experts_pre, with_kwargs=True))
    names = {id(m): n for n, m in model.named_modules()}
    extra: Dict[str, Any] = {"use_cache": False}
    if "logits_to_keep" in inspect.signature(model.forward).parameters:
        extra["logits_to_keep"] = 1  # the LM head's output is not needed: one position, not [B, T, V]
    done, forward_seconds = 0, 0.0
    try:
        with torch.no_grad():
            for group in _batches(windows, batch):
                started = time.monotonic()
                try:
                    model(input_ids=torch.tensor(group, device=device), **extra)
                except Exception as e:  # the model's own code: say where, in one line
                    message = str(e).splitlines()[0] if str(e) else type(e).__name__
                    module = _failing_module(e, names)
                    raise ForwardError(f"the model's forward failed{' in ' + module if module else ''}: "
                                       f"{type(e).__name__}: {message}") from None
                forward_seconds += time.monotonic() - started
                done += sum(len(p) for p in group)
                for b, g in gates.items():
                    rows, choices, source, why = watches[b].take()
                    if filled[b] + rows.shape[0] > n_tokens:
                        raise ContractError(f"{g.name}: saw more rows than the {n_tokens} tokens (a gate called twice "
                                            "per forward cannot be captured)")
                    probe[b][filled[b]:filled[b] + rows.shape[0]] = rows
                    filled[b] += rows.shape[0]
                    if choices is None or b in unseen:
                        unseen.setdefault(b, why or "the model gave no choices")
                        continue
                    if keep_choices:
                        kept[b].append(choices)
                    sources[b] = source
                    k = top_ks.setdefault(b, int(choices[0].shape[1]))
                    if b not in routers:
                        routers[b] = {}
                        for key in keys[b]:
                            try:
                                routers[b][key] = make_router(g, key, k)
                            except ContractError:
                                continue  # options this gate cannot take (groups that do not divide E)
                    logits = next(iter(routers[b].values())).logits(rows)
                    scales = [float(v) for v in (g.setting(SCALE_NAMES, config),) if isinstance(v, (int, float))]
                    for key, router in routers[b].items():
                        tally(router, logits, choices, tallies[b].setdefault(key, Tally()), tie_rtol, tol, scales)
                if progress is not None:
                    progress.update(done)
    finally:
        if progress is not None:
            progress.close()
        for h in handles:
            h.remove()
    for b, g in gates.items():
        if filled[b] != n_tokens:
            raise ContractError(f"{g.name}: saw {filled[b]} token rows for {n_tokens} tokens (a gate that skips tokens "
                                "cannot be captured)")
    written, notes, checks, is_unverified = _decide(gates, keys, tallies, top_ks, sources, unseen, config, unverified, n_tokens)
    choices_out: Dict[int, Choices] = {}
    for b, parts in kept.items():
        if parts and b not in unseen:
            weights = [p[1] for p in parts]
            choices_out[b] = (torch.cat([p[0] for p in parts]),
                              torch.cat([w for w in weights if w is not None]) if all(w is not None for w in weights) else None)
    return Routing(written, notes, checks, is_unverified, probe, sources, unseen, choices_out, forward_seconds)


def _batches(windows: List[List[int]], batch: int) -> Iterator[List[List[int]]]:
    """Windows of equal length `batch` at a time (no padding: a shorter last window goes alone)."""
    group: List[List[int]] = []
    for w in windows:
        if group and (len(group) == batch or len(w) != len(group[0])):
            yield group
            group = []
        group.append(w)
    if group:
        yield group


def _decide(gates: Dict[int, FoundGate], keys: Dict[int, List[RuleKey]], tallies: Dict[int, Dict[RuleKey, Tally]],
            top_ks: Dict[int, int], sources: Dict[int, str], unseen: Dict[int, str], config: Any, unverified: bool,
            n_tokens: int) -> Tuple[Dict[int, LinearGateRouter], List[str], Dict[int, BlockCheck], bool]:
    """The routers to write (one rule for every block), run.json's notes, what was checked, and whether the
    capture is unverified; a one-line ContractError when no rule of the contract reproduces the model on
    every token (or its routing cannot be seen) and `unverified` is not given."""
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
        k = top_ks.get(first.block) or _count(first.setting(TOP_K_NAMES, config)) or 2
        routers = {b: make_router(g, key, k, scale) for b, g in gates.items()}
        notes = [key.describe(scale) + " (from the model's settings)",
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
            reason = (f"{where}: no routing rule of the contract reproduces what the model hands its experts; closest, "
                      f"{closest.describe(tallies[first.block][closest].scale or 1.0)}: {how}")
        if not unverified:
            raise ContractError(reason + "; --unverified writes the closest rule of the contract unchecked")
        chosen, is_unverified = closest, True
        notes_reason = f"UNVERIFIED (--unverified): {reason}"
    scale = scale_of(chosen) or 1.0
    routers = {b: make_router(g, chosen, top_ks[b], scale) for b, g in gates.items()}
    checks = {}
    for b in gates:
        t = tallies[b].get(chosen, Tally())
        checks[b] = BlockCheck(t.tokens, t.ties, t.largest, sources.get(b, ""), t.other_experts, t.other_weights)
    notes = [f"{chosen.describe(scale)}, top-{top_ks[first.block]} of {first.experts} experts"]
    if chosen.bias:
        notes.append(f"selection bias: each block's {chosen.bias} (expert_bias; nothing moves it here)")
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
