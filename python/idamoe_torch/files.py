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
from .layers import ContractError
from .softmax_router import SoftmaxRouter

Router = Union[IDARouter, SoftmaxRouter]


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
    """Every IDARouter and SoftmaxRouter in `model`, keyed by the transformer block index: the last
    integer in its module path (`blocks.3.moe.router` -> 3). One-line error when a path has no integer
    or two routers share a block."""
    found: Dict[int, Router] = {}
    for name, module in model.named_modules():
        if not isinstance(module, (IDARouter, SoftmaxRouter)):
            continue
        numbers = re.findall(r"(?:^|\.)(\d+)(?=\.|$)", name)
        if not numbers:
            raise ContractError(f"router {name or '<model>'}: no block index in its module path; pass routers={{block: router}}")
        block = int(numbers[-1])
        if block in found:
            raise ContractError(f"router {name}: block {block} already has a router; pass routers={{block: router}}")
        found[block] = module
    if not found:
        raise ContractError("the model holds no IDARouter or SoftmaxRouter")
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
