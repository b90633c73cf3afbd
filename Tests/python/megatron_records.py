"""Megatron-Core's routing records, written to its schema for the import tests.

Router traces follow megatron/core/transformer/moe/router_trace.py of megatron-core 0.19.2 (in the
package since 0.19.0; the package says Python >= 3.12, the tracer imports and runs on 3.11): `RouterTracer` in
training mode writes, at each `advance_step`, one JSON line per router call (micro-batch by micro-batch,
layer by layer, an MTP head's router after the decoder's) with the keys in its order, `top_indices`
last, and appends the bf16 sidecars in call order. The router here is a linear gate evaluated as
`gate_logits` says; as Megatron's TopKRouter in training, it hands the tracer a boolean routing map, so
each token's experts are listed by index (`nonzero`), not best first. test_import_megatron.py has the
real tracer write the same decisions and checks that its files are these, byte for byte.

Tokens-per-expert logs follow megatron/training/activation_logging.py (`ActivationLogger.save_tpe`) of
the same release (in the package since 0.18.0); megatron.training does not import on Python 3.11 (typing.override), so they are
tested against these fixtures only.

Each writer returns the ground truth the tests check the import against.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch


@dataclass
class Call:
    """One router call as the tracer saw it: rank, step, layer, micro-batch and its tensors (bf16-rounded)."""
    rank: int
    step: int
    layer: int
    micro: int
    indices: np.ndarray          # [n, k] int, each row ascending (the routing map's order)
    logits: Optional[np.ndarray]  # [n, E] float32 (bf16 values)
    hidden: Optional[np.ndarray]  # [n, D] float32 (bf16 values)
    block: str = "decoder"        # "decoder" or "mtp" (the MTP head's router, mtp_idx 0, layer 0)


@dataclass
class Trace:
    calls: List[Call] = field(default_factory=list)
    experts: int = 0
    topk: int = 0
    #: Each router's gate weight [E, D] (float32), by layer; the MTP head's under -1.
    gates: Dict[int, np.ndarray] = field(default_factory=dict)
    #: What `skew` added to expert 0's decoder logits.
    skew: float = 0.0

    def of(self, step: int, layer: Optional[int] = None, rank: Optional[int] = None) -> List[Call]:
        """The decoder calls of a step (of one layer, of one rank)."""
        return [c for c in self.calls if c.block == "decoder" and c.step == step
                and (layer is None or c.layer == layer) and (rank is None or c.rank == rank)]


def bf16(x: torch.Tensor) -> torch.Tensor:
    """`x` rounded to bfloat16, as float32."""
    return x.to(torch.bfloat16).float()


def gate_logits(hidden: torch.Tensor, weight: torch.Tensor, skew: float = 0.0) -> torch.Tensor:
    """A linear router's logits [n, E] for hidden states [n, D] and a gate weight [E, D], in bfloat16 as
    a bf16 model's router returns them: computed in float64 (so the rounding, not the summation order,
    decides every bit) with `skew` added to expert 0's."""
    logits = torch.nn.functional.linear(hidden.double(), weight.double())
    logits[:, 0] += skew
    return logits.to(torch.bfloat16)


def routing_map(logits: torch.Tensor, topk: int) -> torch.Tensor:
    """The boolean map [n, E] of the experts a top-k router picks from logits [n, E]."""
    chosen = torch.topk(logits, topk, dim=1).indices
    return torch.zeros(logits.shape, dtype=torch.bool).scatter(1, chosen, True)


def route(logits: torch.Tensor, topk: int) -> torch.Tensor:
    """The experts [n, k] of `routing_map`, listed by index as the tracer reads them from the map."""
    return routing_map(logits, topk).nonzero(as_tuple=True)[1].view(-1, topk)


def _bytes(x: torch.Tensor) -> bytes:
    return x.to(torch.bfloat16).contiguous().view(torch.int16).numpy().tobytes()


def write_trace(out: str, *, ranks: int = 2, layers: Sequence[int] = (0, 1, 2), experts: int = 8, topk: int = 2,
                width: int = 16, steps: Sequence[int] = (10, 11, 12), micro: int = 2, tokens: int = 24,
                logits: bool = True, hidden: bool = True, mtp: bool = True, seed: int = 0,
                skew: float = 0.0) -> Trace:
    """router_trace_rank{r}.jsonl (+ sidecars) as RouterTracer writes them in training mode: per step, per
    micro-batch, per layer one record (and, with `mtp`, one of the MTP head's router); `skew` adds to
    expert 0's logit so its load stands out. Every rank's routers share the gate weights (data
    parallelism) and see their own tokens."""
    os.makedirs(out, exist_ok=True)
    gen = torch.Generator().manual_seed(seed)
    truth = Trace(experts=experts, topk=topk, skew=skew)
    for layer in [*layers, -1]:
        truth.gates[layer] = bf16(torch.randn(experts, width, generator=gen) / width ** 0.5).numpy()
    for r in range(ranks):
        hs_off = lg_off = 0
        hs_file = open(os.path.join(out, f"hidden_states_rank{r}.bin"), "wb") if hidden else None
        lg_file = open(os.path.join(out, f"logits_rank{r}.bin"), "wb") if logits else None
        with open(os.path.join(out, f"router_trace_rank{r}.jsonl"), "w") as f:
            for s in steps:
                for m in range(micro):
                    for layer in [*layers, -1] if mtp else layers:
                        h = bf16(torch.randn(tokens, width, generator=gen))
                        lg = gate_logits(h, torch.from_numpy(truth.gates[layer]), skew if layer >= 0 else 0.0)
                        idx = route(lg, topk).to(torch.int32)
                        rec = {"step": s, "stage": "pre_dispatch", "block": "decoder" if layer >= 0 else "mtp",
                               "layer": max(layer, 0), "rank": r, "num_tokens": tokens, "topk": topk}
                        if layer < 0:
                            rec["mtp_idx"] = 0
                        if hs_file is not None:
                            data = _bytes(h)
                            hs_file.write(data)
                            rec.update(hs_offset=hs_off, hs_bytes=len(data), hs_shape=[tokens, width])
                            hs_off += len(data)
                        if lg_file is not None:
                            data = _bytes(lg)
                            lg_file.write(data)
                            rec.update(logit_offset=lg_off, logit_bytes=len(data), logit_shape=[tokens, experts])
                            lg_off += len(data)
                        rec["top_indices"] = idx.tolist()
                        f.write(json.dumps(rec) + "\n")
                        truth.calls.append(Call(r, s, max(layer, 0), m, idx.numpy(),
                                                lg.float().numpy() if logits else None,
                                                h.numpy() if hidden else None,
                                                "decoder" if layer >= 0 else "mtp"))
        for handle in (hs_file, lg_file):
            if handle is not None:
                handle.close()
    return truth


def write_tpe(save_dir: str, *, ranks: int = 2, local: int = 4, layers: Sequence[int] = (1, 3),
              iters: Sequence[int] = (99, 199), micro: int = 2, seed: int = 0) -> Dict[Tuple[int, int, int], np.ndarray]:
    """tokens_per_expert/rank{r}.jsonl as ActivationLogger.save_tpe writes them; returns {(iter, rank,
    layer): counts [micro, local]}."""
    folder = os.path.join(save_dir, "tokens_per_expert")
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    truth: Dict[Tuple[int, int, int], np.ndarray] = {}
    for r in range(ranks):
        with open(os.path.join(folder, f"rank{r}.jsonl"), "a") as f:
            for it in iters:
                for layer in layers:
                    counts = rng.integers(0, 50, size=(micro, local))
                    truth[(it, r, layer)] = counts
                    f.write(json.dumps({"iter": it, "block": "decoder", "layer": layer, "tpe": counts.tolist()}) + "\n")
                f.write(json.dumps({"iter": it, "block": "mtp", "mtp_idx": 0, "layer": 1, "tpe": [[1] * local]}) + "\n")
    return truth
