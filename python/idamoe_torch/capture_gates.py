"""Where a Hugging Face MoE model's routers are (capture, docs/python.md "Capturing a Hugging Face
model"): found by structure, not by model name, as a module's 2-D `weight` [E, D] (D the model's hidden
size) in a block that holds its E experts, outside the experts themselves and shared experts; with the
[E] vectors beside each gate (where a model keeps a selection bias) and the modules holding its settings."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import torch
from torch import nn

from .layers import ContractError


#: The contract's expert limit (docs/format.md, "Limits").
MAX_EXPERTS = 1024


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
    #: The module whose output holds the gate's choices: the gate, or when the gate is a bare nn.Linear
    #: inside a router module of the block (JetMoe's `router.layer`), that router.
    watched: Optional[nn.Module] = None
    #: Other routers of this block left out of the capture (attention experts' routers), by module path.
    left_out: List[str] = field(default_factory=list)

    def setting(self, names: Sequence[str], config: Any = None) -> Any:
        """The first of the attributes `names` set on the gate, its parents, its block or the config."""
        for holder in [*self.holders, config]:
            for name in names:
                value = getattr(holder, name, None) if holder is not None else None
                if value is not None and not isinstance(value, (nn.Module, torch.Tensor)):
                    return value
        return None


def positive_count(value: Any) -> Optional[int]:
    """`value` when it is an int of at least 1 (a count a model's setting gives), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None


def expert_count(module: nn.Module) -> Optional[int]:
    """How many routed experts `module` holds by its structure: an `experts` child (a list, a module that
    says how many, or fused weights [E, ...]), or a direct child of fused expert weights [E, ...]."""
    experts = getattr(module, "experts", None)
    if isinstance(experts, (nn.ModuleList, list, tuple)):
        return len(experts)
    if isinstance(experts, nn.Module):
        for attr in ("num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts"):
            if positive_count(getattr(experts, attr, None)):
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


def _in_attention(path: str) -> bool:
    """Whether a module path passes through an attention module (`self_attention`, `attn`, ...)."""
    return any(re.search(r"attn|attention", part) for part in path.split("."))


def find_gates(model: nn.Module, hidden_size: int) -> Dict[int, FoundGate]:
    """{block: gate} for every MoE router of `model`: a `weight` [E, D] (2 <= E <= 1024, D = `hidden_size`)
    whose parent or grandparent holds E experts, outside the experts themselves. A block with a router of
    attention experts beside its MLP experts' router (JetMoe's mixture of attention heads) keeps the MLP
    one and names the other in `left_out`. One-line errors: no router (naming the modules that came
    closest), two routers in one block otherwise, a path without a block index."""
    modules = dict(model.named_modules())
    found: Dict[int, FoundGate] = {}
    attention: Dict[int, List[FoundGate]] = {}
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
        holders = [modules[".".join(parts[:len(parts) - up])] for up in range(0, len(parts) - block_name.count("."))]
        gate = FoundGate(block, name, module, block_name, modules[block_name], experts, holders=holders)
        gate.watched = holders[1] if type(module) is nn.Linear and len(holders) > 2 else module
        gate.vectors = _selection_vectors(gate)
        if _in_attention(block_name):
            attention.setdefault(block, []).append(gate)
            continue
        if block in found:
            raise ContractError(f"{name} and {found[block].name}: two routers in block {block}; the file contract holds "
                                "one router per block")
        found[block] = gate
    for block, gates in attention.items():
        if block in found:
            found[block].left_out = [g.name for g in gates]
        elif len(gates) == 1:
            found[block] = gates[0]  # the block's only router, though its experts sit in attention
        else:
            raise ContractError(f"{gates[1].name} and {gates[0].name}: two routers in block {block}; the file contract "
                                "holds one router per block")
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
