"""Megatron-Core's routing records, written to its schema for the import tests.

megatron-core on PyPI (0.16.1 here) predates the router tracer, so these fixtures follow the writers'
source as read at NVIDIA/Megatron-LM commit d98e8a64 (2026-08-22, core 0.20.0 in development):
megatron/core/transformer/moe/router_trace.py (`RouterTracer._make_index_record`, `_record`,
`_flush_records_to_disk`: one JSON line per (step, block, layer) and micro-batch, the bf16 sidecars
appended in call order) and megatron/training/activation_logging.py (`ActivationLogger.save_tpe`).
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
    indices: np.ndarray          # [n, k] int
    logits: Optional[np.ndarray]  # [n, E] float32 (bf16 values)
    hidden: Optional[np.ndarray]  # [n, D] float32 (bf16 values)


@dataclass
class Trace:
    calls: List[Call] = field(default_factory=list)
    experts: int = 0
    topk: int = 0

    def of(self, step: int, layer: Optional[int] = None, rank: Optional[int] = None) -> List[Call]:
        return [c for c in self.calls if c.step == step and (layer is None or c.layer == layer)
                and (rank is None or c.rank == rank)]


def _bf16(x: torch.Tensor) -> Tuple[bytes, np.ndarray]:
    b = x.to(torch.bfloat16).contiguous()
    return b.view(torch.int16).numpy().tobytes(), b.float().numpy()


def write_trace(out: str, *, ranks: int = 2, layers: Sequence[int] = (0, 1, 2), experts: int = 8, topk: int = 2,
                width: int = 16, steps: Sequence[int] = (10, 11, 12), micro: int = 2, tokens: int = 24,
                logits: bool = True, hidden: bool = True, mtp: bool = True, seed: int = 0,
                skew: float = 0.0) -> Trace:
    """router_trace_rank{r}.jsonl (+ sidecars) as RouterTracer writes them in training mode: per step, per
    micro-batch, per layer one record; `skew` adds to expert 0's logit so its load stands out."""
    os.makedirs(out, exist_ok=True)
    gen = torch.Generator().manual_seed(seed)
    truth = Trace(experts=experts, topk=topk)
    for r in range(ranks):
        hs_off = lg_off = 0
        hs_file = open(os.path.join(out, f"hidden_states_rank{r}.bin"), "wb") if hidden else None
        lg_file = open(os.path.join(out, f"logits_rank{r}.bin"), "wb") if logits else None
        with open(os.path.join(out, f"router_trace_rank{r}.jsonl"), "w") as f:
            for s in steps:
                for m in range(micro):
                    for layer in layers:
                        h = torch.randn(tokens, width, generator=gen)
                        lg = torch.randn(tokens, experts, generator=gen)
                        lg[:, 0] += skew
                        lg_bytes, lg_values = _bf16(lg)
                        # The router's top-k of its (bf16) logits, as TopKRouter returns them.
                        idx = torch.topk(torch.from_numpy(lg_values), topk, dim=1).indices.to(torch.int32).numpy()
                        rec = {"step": s, "stage": "pre_dispatch", "block": "decoder", "layer": layer, "rank": r,
                               "num_tokens": tokens, "topk": topk, "top_indices": idx.tolist()}
                        hs_values = None
                        if hs_file is not None:
                            hs_bytes, hs_values = _bf16(h)
                            hs_file.write(hs_bytes)
                            rec.update(hs_offset=hs_off, hs_bytes=len(hs_bytes), hs_shape=[tokens, width])
                            hs_off += len(hs_bytes)
                        if lg_file is not None:
                            lg_file.write(lg_bytes)
                            rec.update(logit_offset=lg_off, logit_bytes=len(lg_bytes), logit_shape=[tokens, experts])
                            lg_off += len(lg_bytes)
                        f.write(json.dumps(rec) + "\n")
                        truth.calls.append(Call(r, s, layer, m, idx, lg_values if logits else None, hs_values))
                    if mtp:  # a multi-token-prediction head's router, which the import leaves out
                        f.write(json.dumps({"step": s, "stage": "pre_dispatch", "block": "mtp", "layer": 0, "rank": r,
                                            "num_tokens": 1, "topk": topk, "top_indices": [list(range(topk))],
                                            "mtp_idx": 0}) + "\n")
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
