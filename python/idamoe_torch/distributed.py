"""What the package does under torch.distributed: sums over ranks, broadcasts from rank 0, who writes."""
from __future__ import annotations

import torch
import torch.distributed as dist


def active() -> bool:
    """True inside an initialised process group of more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_writer() -> bool:
    """Only rank 0 touches files."""
    return rank() == 0


def sum_over_ranks(values: torch.Tensor) -> torch.Tensor:
    """The element-wise sum of `values` over every rank (the tensor itself without a process group).

    Reduced on the CPU in float64 under gloo, on the tensor's device otherwise (NCCL needs CUDA).
    """
    if not active():
        return values
    backend = dist.get_backend()
    device = values.device if backend != "gloo" else torch.device("cpu")
    out = values.detach().to(device=device, dtype=torch.float64).clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out.to(values.device)


def broadcast_from_writer(values: torch.Tensor) -> torch.Tensor:
    """Rank 0's `values` on every rank (same shape and dtype on all ranks)."""
    if not active():
        return values
    backend = dist.get_backend()
    device = values.device if backend != "gloo" else torch.device("cpu")
    out = values.detach().to(device).clone()
    dist.broadcast(out, src=0)
    return out.to(values.device)
