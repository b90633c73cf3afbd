"""The model's own routing, as capture reads it: what a block hands its experts
(`experts(hidden, indices, weights)`), or where the experts do not take them, the gate's own output
(top-k indices and weights, the scores of the chosen experts, a dispatch sorted by expert); and the hooks
of one gate (`GateWatch`) that collect its input rows and those choices batch by batch."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from .capture_gates import FoundGate


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


class GateWatch:
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
