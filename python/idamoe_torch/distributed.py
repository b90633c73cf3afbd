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

    Reduced in float64 on the CPU (gloo) or the current CUDA device (NCCL), returned on the tensor's device.
    """
    if not active():
        return values
    out = values.detach().to(device=_collective_device(), dtype=torch.float64).clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out.to(values.device)


def broadcast_from_writer(values: torch.Tensor) -> torch.Tensor:
    """Rank 0's `values` on every rank (same shape and dtype on all ranks)."""
    if not active():
        return values
    out = values.detach().to(_collective_device()).clone()
    dist.broadcast(out, src=0)
    return out.to(values.device)


def _collective_device() -> torch.device:
    """Where the process group's backend reduces: the current CUDA device for NCCL, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")
