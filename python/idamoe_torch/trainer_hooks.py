"""The forward hooks of `IdamoeCallback` (trainer_callback.py): per MoE block, the gate's input (tokens,
the entropy of the router's distribution) and the experts the model chose (what the block hands its
experts, or the gate's own output), counted for the step events of training forwards and the held-out
loads of eval forwards.

The hooks read and never write: they run under `no_grad` on detached tensors, draw no random numbers and
leave every module's mode alone, and never raise into the model's forward (a failure is a missed call).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .capture import FoundGate, experts_call, gate_output
from .routing import entropy_bits
from .softmax_router import LinearGateRouter

if TYPE_CHECKING:
    from .trainer_callback import IdamoeCallback


class BlockWatcher:
    """One MoE block's hooks and counts: its gate's input (tokens, the router distribution's entropy) and
    the experts the model chose (what the block hands its experts, or the gate's own output)."""

    def __init__(self, owner: "IdamoeCallback", block: int, gate: FoundGate, router: LinearGateRouter, source: str) -> None:
        self.owner, self.block, self.gate, self.router, self.source = owner, block, gate, router, source
        self.experts = gate.experts
        self.width = int(gate.module.weight.shape[1])  # type: ignore[union-attr]
        self.phase: Optional[str] = None
        self.rows = 0
        self.tokens = 0
        self.entropy: Any = 0.0  # a tensor on the model's device once a forward was counted (no sync per forward)
        self.counts = torch.zeros(self.experts, dtype=torch.float64)
        self.missed = 0
        #: The first exception a hook met (the forward goes on; the next step event stops the recording).
        self.error = ""

    def install(self) -> List[Any]:
        """Registers the hooks; their handles (the callback removes them)."""
        handles = [self.gate.module.register_forward_pre_hook(self._guarded(self.gate_pre), with_kwargs=True)]
        if self.source == "experts":
            experts = getattr(self.gate.block_module, "experts")
            handles.append(experts.register_forward_pre_hook(self._guarded(self.experts_pre), with_kwargs=True))
        else:
            handles.append(self.gate.module.register_forward_hook(self._guarded(self.gate_post), with_kwargs=True))
        return handles

    def _guarded(self, hook: Any) -> Any:
        """`hook` that never raises into the model's forward: a failure is counted as a missed call."""
        def run(*args: Any) -> None:
            try:
                hook(*args)
            except Exception as e:  # noqa: BLE001 - the training must go on; the run says why it stopped
                self.missed += 1
                self.phase = None
                self.error = self.error or f"{self.gate.name}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        return run

    def gate_pre(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        """The gate's input: what this forward counts for, its rows, and (training) the entropy sum."""
        self.phase = self.owner.counting(module)
        if self.phase is None:
            return
        h = args[0] if args else next(iter(kwargs.values()))
        x = h.detach().reshape(-1, self.width)
        self.rows = int(x.shape[0])
        if self.phase != "train":
            return
        weight = self.gate.module.weight  # type: ignore[union-attr]
        bias = getattr(self.gate.module, "bias", None)
        with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
            logits = F.linear(x.float(), weight.detach().float(),
                              bias.detach().float() if isinstance(bias, torch.Tensor) else None)
            probabilities = self.router.decide(logits.double())["probabilities"]
            self.entropy = self.entropy + entropy_bits(probabilities).sum()
        self.tokens += self.rows

    def experts_pre(self, _module: nn.Module, args: tuple, kwargs: dict) -> None:
        """What the block hands its experts: the choices counted."""
        if self.phase is None:
            return
        decoded = experts_call(args, kwargs, self.experts)
        self.count(decoded[1] if decoded is not None else None)

    def gate_post(self, _module: nn.Module, _args: tuple, _kwargs: dict, output: Any) -> None:
        """The gate's own output, where the block's experts take nothing readable: the choices counted."""
        if self.phase is None:
            return
        self.count(gate_output(output, self.rows, self.experts))

    def count(self, choices: Optional[Tuple[torch.Tensor, Optional[torch.Tensor]]]) -> None:
        """Training choices into the step counts, eval ones into the held-out loads; None is a missed call."""
        phase, self.phase = self.phase, None
        if choices is None:
            self.missed += 1
            return
        experts, weights = choices
        if phase == "train":
            self.counts += torch.bincount(experts.reshape(-1), minlength=self.experts).double()
        elif self.owner.heldout is not None:
            if weights is None:
                weights = torch.full(experts.shape, 1.0 / experts.shape[1], dtype=torch.float64)
            self.owner.heldout.add(self.block, experts, weights)

    def take(self) -> torch.Tensor:
        """[tokens, entropy sum (bits), counts [E]] since the last call, float64 on the CPU; reset."""
        entropy = float(self.entropy) if isinstance(self.entropy, torch.Tensor) else float(self.entropy)
        out = torch.cat([torch.tensor([float(self.tokens), entropy], dtype=torch.float64), self.counts])
        self.tokens, self.entropy, self.counts = 0, 0.0, torch.zeros(self.experts, dtype=torch.float64)
        return out

    def take_missed(self) -> int:
        """Calls whose choices could not be read since the last call; reset."""
        missed, self.missed = self.missed, 0
        return missed



def outside_backward() -> bool:
    """False while the autograd engine runs a backward pass (where gradient checkpointing recomputes)."""
    current = getattr(torch._C, "_current_graph_task_id", None)
    return current is None or current() == -1
