"""The files of docs/format.md written from PyTorch: router checkpoints and probes, published atomically."""
from __future__ import annotations

import json
import os
import re
from typing import Dict, Mapping, Optional, Sequence, Union

import torch
from safetensors.torch import save as safetensors_bytes
from torch import nn

from .ida_router import IDARouter
from .layers import PRIOR_MASSES, ContractError
from .contract import GATE_TEMPERATURE_ABSENT
from .softmax_router import LinearGateRouter, SigmoidBiasRouter, SoftmaxRouter

#: Every router kind of the contract.
Router = Union[IDARouter, SoftmaxRouter, SigmoidBiasRouter]
#: Their module classes, for isinstance.
ROUTER_TYPES = (IDARouter, LinearGateRouter)


def publish(data: bytes, path: str) -> None:
    """Writes `data` at `path` atomically: `PATH.tmp-PID`, fsync, rename (a reader never sees half a file)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def collect_routers(model: nn.Module) -> Dict[int, Router]:
    """Every IDARouter, SoftmaxRouter and SigmoidBiasRouter in `model`, keyed by the transformer block index: the last
    integer in its module path (`blocks.3.moe.router` -> 3). One-line error when a path has no integer
    or two routers share a block."""
    found: Dict[int, Router] = {}
    for name, module in model.named_modules():
        if not isinstance(module, ROUTER_TYPES):
            continue
        numbers = re.findall(r"(?:^|\.)(\d+)(?=\.|$)", name)
        if not numbers:
            raise ContractError(f"router {name or '<model>'}: no block index in its module path; pass routers={{block: router}}")
        block = int(numbers[-1])
        if block in found:
            raise ContractError(f"router {name}: block {block} already has a router; pass routers={{block: router}}")
        found[block] = module  # type: ignore[assignment]
    if not found:
        raise ContractError("the model holds no IDARouter, SoftmaxRouter or SigmoidBiasRouter")
    return dict(sorted(found.items()))


def checkpoint_metadata(routers: Mapping[int, Router], step: Optional[int] = None) -> Dict[str, str]:
    """`__metadata__` of a checkpoint of these routers; every router must have the same settings."""
    if not routers:
        raise ContractError("a checkpoint needs at least one router")
    layers = sorted(routers)
    if any(i < 0 or i > 4095 for i in layers):
        raise ContractError(f"block indices must be 0...4095, got {layers}")
    first = routers[layers[0]].metadata()
    for i in layers[1:]:
        other = routers[i].metadata()
        if other != first:
            key = next(k for k in sorted(set(first) | set(other)) if first.get(k) != other.get(k))
            raise ContractError(f"router of block {i}: {key} is {other.get(key)!r}, block {layers[0]}'s is "
                                f"{first.get(key)!r}; one checkpoint holds routers of one setting")
    meta = {"idamoe.format": "1", "idamoe.moe_layers": ",".join(str(i) for i in layers), **first}
    if step is not None:
        meta["idamoe.step"] = str(int(step))
    return meta


def router_tensors(routers: Mapping[int, Router]) -> Dict[str, torch.Tensor]:
    """`layers.{i}.router.{name}` float32 CPU tensors of every router (its state_dict, which holds the
    contract's names only); non-finite values are a one-line error."""
    out: Dict[str, torch.Tensor] = {}
    for i in sorted(routers):
        for name, t in routers[i].state_dict().items():
            key = f"layers.{i}.router.{name}"
            value = t.detach().to("cpu", torch.float32).contiguous()
            if not bool(torch.isfinite(value).all()):
                bad = int((~torch.isfinite(value)).reshape(-1).nonzero()[0])
                raise ContractError(f"{key} holds a non-finite value at element {bad}")
            out[key] = value
    return out


def save_routers(path: str, routers: Union[nn.Module, Mapping[int, Router]], step: Optional[int] = None,
                 extra_metadata: Optional[Mapping[str, str]] = None) -> None:
    """Writes a checkpoint (docs/format.md, "Checkpoints") of `routers` ({block: router}, or a model whose
    routers `collect_routers` finds) that `idamoe route`, `idamoe diff` and `idamoe inspect` read."""
    table = collect_routers(routers) if isinstance(routers, nn.Module) else dict(routers)
    meta = checkpoint_metadata(table, step)
    meta.update(extra_metadata or {})
    publish(safetensors_bytes(router_tensors(table), metadata=meta), path)


def write_probe(path: str, tokens: torch.Tensor, hidden: Optional[Mapping[int, torch.Tensor]] = None,
                domains: Optional[torch.Tensor] = None, documents: Optional[torch.Tensor] = None,
                domain_names: Sequence[str] = (), vocab: Union[str, Sequence[str]] = "bytes",
                step: Optional[int] = None) -> None:
    """Writes a probe (docs/format.md, "Probes"): tokens [N], optional domains and documents [N], and
    `layers.{i}.hidden` [N, D] F32 for each MoE block i. `vocab` is "bytes" or the token strings."""
    tokens = tokens.reshape(-1)
    n = int(tokens.numel())
    tensors: Dict[str, torch.Tensor] = {"tokens": tokens.detach().to("cpu", torch.int32).contiguous()}
    for name, ids in (("domains", domains), ("documents", documents)):
        if ids is None:
            continue
        ids = ids.reshape(-1)
        if ids.numel() != n:
            raise ContractError(f"{path}: {name} has {ids.numel()} entries, tokens {n}")
        tensors[name] = ids.detach().to("cpu", torch.int32).contiguous()
    for i, h in sorted((hidden or {}).items()):
        if h.dim() != 2 or h.shape[0] != n:
            raise ContractError(f"{path}: layers.{i}.hidden has shape {list(h.shape)}, expected [{n}, D]")
        value = h.detach().to("cpu", torch.float32).contiguous()
        if not bool(torch.isfinite(value).all()):
            bad = int((~torch.isfinite(value)).reshape(-1).nonzero()[0])
            raise ContractError(f"{path}: layers.{i}.hidden holds a non-finite value at element {bad}")
        tensors[f"layers.{i}.hidden"] = value
    meta = {"idamoe.format": "1", "idamoe.vocab": vocab if isinstance(vocab, str) else json.dumps(list(vocab))}
    if isinstance(vocab, str) and vocab != "bytes":
        raise ContractError(f"{path}: vocab must be 'bytes' or a list of token strings, got {vocab!r}")
    if domain_names:
        meta["idamoe.domain_names"] = json.dumps(list(domain_names))
    if step is not None:
        meta["idamoe.step"] = str(int(step))
    publish(safetensors_bytes(tensors, metadata=meta), path)


def _metadata_int(path: str, meta: Mapping[str, str], key: str, default: Optional[int] = None) -> int:
    text = meta.get(key)
    if text is None:
        if default is None:
            raise ContractError(f"{path}: metadata {key}: missing")
        return default
    try:
        return int(text.strip())
    except ValueError:
        raise ContractError(f"{path}: metadata {key}: '{text}' is not an integer") from None


def _metadata_choice(path: str, meta: Mapping[str, str], key: str, choices: Sequence[str], default: str) -> str:
    """The value of `key`, one of `choices` (absent: `default`), else a one-line error naming the key."""
    text = meta.get(key, default).strip()
    if text not in choices:
        raise ContractError(f"{path}: metadata {key}: unknown value '{text}' ({', '.join(choices)})")
    return text


def _apply_gate_options(path: str, meta: Mapping[str, str], router: LinearGateRouter) -> None:
    """Sets a linear-gate router's gate options from `idamoe.gate_normalize`, `idamoe.gate_scale`,
    `idamoe.expert_groups`, `idamoe.group_top_k`, `idamoe.group_score` and `idamoe.selection_bias_on`
    (absent: the defaults)."""
    normalize = meta.get("idamoe.gate_normalize", "true").strip()
    if normalize not in ("true", "false"):
        raise ContractError(f"{path}: metadata idamoe.gate_normalize: '{normalize}' is not true or false")
    try:
        scale = float(meta.get("idamoe.gate_scale", "1").strip())
    except ValueError:
        raise ContractError(f"{path}: metadata idamoe.gate_scale: '{meta['idamoe.gate_scale']}' is not a number") from None
    groups = _metadata_int(path, meta, "idamoe.expert_groups", 1)
    kept = _metadata_int(path, meta, "idamoe.group_top_k", groups)
    group_score = meta.get("idamoe.group_score", "top2sum").strip()
    bias_on = meta.get("idamoe.selection_bias_on", "scores").strip()
    try:
        router.set_gate_options(normalize == "true", scale, groups, kept, group_score, bias_on)
    except ContractError as e:
        raise ContractError(f"{path}: metadata: {e}") from None


def _stack_widths(path: str, tensors: Mapping[str, torch.Tensor], prefix: str) -> "list[int]":
    """[in, out_0, out_1, ...] of the Linear stack `prefix.{j}`, j from 0 to the first gap."""
    widths: "list[int]" = []
    j = 0
    while f"{prefix}.{j}.weight" in tensors:
        w = tensors[f"{prefix}.{j}.weight"]
        if w.dim() != 2 or (widths and w.shape[1] != widths[-1]):
            raise ContractError(f"{path}: tensor {prefix}.{j}.weight has shape {list(w.shape)}, expected [*, {widths[-1] if widths else '*'}]")
        widths = widths or [int(w.shape[1])]
        widths.append(int(w.shape[0]))
        j += 1
    if not widths:
        raise ContractError(f"{path}: missing tensor {prefix}.0.weight")
    return widths


def load_routers(path: str) -> Dict[int, Router]:
    """The routers of a checkpoint (docs/format.md) as modules, {block: router}, for routing or further
    training in PyTorch; settings from `__metadata__`, widths from the tensors."""
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        meta = dict(f.metadata() or {})
        names = [n for n in f.keys() if n.startswith("layers.")]
        tensors = {n: f.get_tensor(n) for n in names}
    if meta.get("idamoe.format") != "1":
        raise ContractError(f"{path}: metadata idamoe.format: {meta.get('idamoe.format')!r} is not 1")
    kind = meta.get("idamoe.router")
    if kind not in ("ida", "softmax", "sigmoid-bias"):
        raise ContractError(f"{path}: metadata idamoe.router: unknown router {kind!r} (ida, softmax or sigmoid-bias)")
    try:
        layers = sorted(int(p) for p in meta.get("idamoe.moe_layers", "").split(","))
    except ValueError:
        raise ContractError(f"{path}: metadata idamoe.moe_layers: {meta.get('idamoe.moe_layers')!r} is not a list of block indices") from None
    experts = _metadata_int(path, meta, "idamoe.experts")
    top_k = _metadata_int(path, meta, "idamoe.top_k", 2)
    out: Dict[int, Router] = {}
    for i in layers:
        pre = f"layers.{i}.router."
        own = {n[len(pre):]: t for n, t in tensors.items() if n.startswith(pre)}
        if kind in ("softmax", "sigmoid-bias"):
            for name in ("gate.weight", "expert_bias") if kind == "sigmoid-bias" else ("gate.weight",):
                if name not in own:
                    raise ContractError(f"{path}: missing tensor {pre}{name}")
            width = int(own["gate.weight"].shape[1])
            gate_router: LinearGateRouter
            if kind == "softmax":
                gate_router = SoftmaxRouter(width, experts=experts, top_k=top_k, bias="gate.bias" in own,
                                            selection_bias="expert_bias" in own)
            else:
                gate_router = SigmoidBiasRouter(width, experts=experts, top_k=top_k, bias="gate.bias" in own)
            _apply_gate_options(path, meta, gate_router)
            router: Router = gate_router
        else:
            enc = _stack_widths(path, own, "encoder")
            router = IDARouter(enc[0], experts=experts,
                               components_per_expert=_metadata_int(path, meta, "idamoe.components_per_expert"),
                               latent_dim=_metadata_int(path, meta, "idamoe.latent_dim"), top_k=top_k, hidden=enc[1:-1],
                               activation=meta.get("idamoe.activation", "gelu"),
                               expert_score=meta.get("idamoe.expert_score", "max"),
                               input_norm=meta.get("idamoe.input_norm", "none"),
                               latent_norm=meta.get("idamoe.latent_norm", "none"),
                               log_var_min=float(meta.get("idamoe.log_var_min", "-3.0e38")),
                               log_var_max=float(meta.get("idamoe.log_var_max", "3.0e38")),
                               gate_temperature=float(meta.get("idamoe.gate_temperature", str(GATE_TEMPERATURE_ABSENT))),
                               prior_mass=_metadata_choice(path, meta, "idamoe.prior_mass", PRIOR_MASSES, "global"))
        try:
            router.load_state_dict({n: t.float() for n, t in own.items()}, strict=True)
        except RuntimeError as e:
            raise ContractError(f"{path}: routers of block {i} do not fit the metadata: {str(e).splitlines()[0]}") from None
        out[i] = router
    return out


def read_probe(path: str) -> "tuple[torch.Tensor, Dict[int, torch.Tensor], Dict[str, str]]":
    """(tokens [N], {block: hidden [N, D] float32}, metadata) of a probe; non-finite hidden values and
    row counts that differ from N are one-line errors."""
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        meta = dict(f.metadata() or {})
        keys = list(f.keys())
        if "tokens" not in keys:
            raise ContractError(f"{path}: missing tensor tokens")
        tokens = f.get_tensor("tokens").reshape(-1)
        hidden: Dict[int, torch.Tensor] = {}
        for name in keys:
            m = re.fullmatch(r"layers\.(\d+)\.hidden", name)
            if not m:
                continue
            h = f.get_tensor(name).float()
            if h.dim() != 2 or h.shape[0] != tokens.numel():
                raise ContractError(f"{path}: tensor {name} has shape {list(h.shape)}, expected [{tokens.numel()}, D]")
            if not bool(torch.isfinite(h).all()):
                bad = int((~torch.isfinite(h)).reshape(-1).nonzero()[0])
                raise ContractError(f"{path}: tensor {name} holds a non-finite value at element {bad}")
            hidden[int(m.group(1))] = h
    return tokens, dict(sorted(hidden.items())), meta
