#!/usr/bin/env python3
"""Time and peak memory of `python -m idamoe_torch import` on records of N tokens through L MoE layers of E
experts, top-k (default: 10^6 tokens, 48 x 128, top-8, 2 ranks), from two producers:

- megatron: a router trace of 4,096 tokens per record (11,712 records, 375 million expert indices) to
  Megatron-Core's router_trace.py schema, 16 distinct records cycled so writing it takes seconds;
- sglang: SGLang's per_token expert-distribution dumps (sglang 0.5.23's expert_distribution.py schema):
  forward passes of 4,096 tokens (4 requests of 1,024 in prefill), 16 passes per rank in each dump file,
  each pass's `topk_ids_of_layer` [L, 4,096, 8] of physical slots (E + 16 redundant replicas, mapped back
  by the dump's `last_physical_to_logical_map`) its own tensor, 16 distinct passes cycled.

The records are written once under --work (kept for a rerun with the same parameters).

    .venv/bin/python scripts/bench_import.py [--producer megatron|sglang|both] [--tokens N] [--work DIR]

Prints one line per producer and size: records, tokens, seconds, tokens per second and the import
process's own peak resident memory, for N / 10 and N, so a bounded memory shows as equal peaks.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List, Tuple

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Replicas of the busiest experts in the SGLang dumps (EPLB's redundant slots).
REDUNDANT = 16
#: Requests per SGLang forward pass (prefill), each of per_pass / REQUESTS tokens.
REQUESTS = 4


def _stamped(out: str, params: Dict[str, int]) -> bool:
    """Whether `out` holds records of these parameters; else it is emptied for new ones."""
    stamp = os.path.join(out, "params.json")
    if os.path.exists(stamp) and json.load(open(stamp)) == params:
        return True
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    return False


def _choices(rng: np.random.Generator, n: int, experts: int, topk: int) -> np.ndarray:
    """[n, topk] distinct experts per token, skewed towards low indices."""
    scores = rng.gumbel(size=(n, experts)) - np.log1p(np.arange(experts)) * 0.3
    return np.argsort(-scores, axis=1)[:, :topk]


def write_megatron(out: str, *, tokens: int, layers: int, experts: int, topk: int, ranks: int, per_record: int) -> int:
    """The router trace; returns its record count."""
    params = dict(tokens=tokens, layers=layers, experts=experts, topk=topk, ranks=ranks, per_record=per_record)
    steps = tokens // ranks // per_record
    if _stamped(out, params):
        return steps * layers * ranks
    rng = np.random.default_rng(0)
    tables = []
    for _ in range(16):
        idx = _choices(rng, per_record, experts, topk)
        tables.append("[" + ",".join("[" + ",".join(map(str, row)) + "]" for row in idx.tolist()) + "]")
    for r in range(ranks):
        with open(os.path.join(out, f"router_trace_rank{r}.jsonl"), "w") as f:
            n = 0
            for s in range(steps):
                for layer in range(layers):
                    head = json.dumps({"step": s, "stage": "pre_dispatch", "block": "decoder", "layer": layer, "rank": r,
                                       "num_tokens": per_record, "topk": topk})
                    f.write(head[:-1] + ', "top_indices": ' + tables[n % 16] + "}\n")
                    n += 1
    json.dump(params, open(os.path.join(out, "params.json"), "w"))
    return steps * layers * ranks


def write_sglang(out: str, *, tokens: int, layers: int, experts: int, topk: int, ranks: int, per_record: int,
                 per_dump: int = 16) -> int:
    """per_token dumps, `expert_distribution_recorder_{time}_{rank}.pt`; returns the record (pass) count."""
    import torch

    params = dict(tokens=tokens, layers=layers, experts=experts, topk=topk, ranks=ranks, per_record=per_record,
                  per_dump=per_dump)
    passes = tokens // ranks // per_record
    if _stamped(out, params):
        return passes * ranks
    rng = np.random.default_rng(0)
    physical = experts + REDUNDANT
    # Slots 0 ... E-1 hold experts 0 ... E-1; the redundant slots replicate the first (busiest) experts.
    p2l = np.tile(np.r_[np.arange(experts), np.arange(REDUNDANT) % experts], (layers, 1))
    choices = [_choices(rng, per_record, experts, topk) for _ in range(16)]
    tables = []
    for t in range(16):
        logical = np.stack([choices[(t + layer) % 16] for layer in range(layers)])  # [L, n, k]
        # A replicated expert's tokens go to its replica slot half the time.
        replica = (logical < REDUNDANT) & (rng.random(logical.shape) < 0.5)
        slots = np.where(replica, experts + logical, logical)
        ids = np.full((layers, per_record, 8), -1, dtype=np.int32)
        ids[:, :, :topk] = slots
        flat = (np.arange(layers)[:, None, None] * physical + slots).reshape(-1)
        count = np.bincount(flat, minlength=layers * physical).reshape(layers, physical).astype(np.int32)
        tables.append((torch.from_numpy(ids), torch.from_numpy(count),
                       [int(x) for x in rng.integers(0, 150_000, size=per_record)]))
    lens = [per_record // REQUESTS] * (REQUESTS - 1) + [per_record - per_record // REQUESTS * (REQUESTS - 1)]
    positions = [p for n in lens for p in range(n)]
    for d, first in enumerate(range(0, passes, per_dump)):
        for r in range(ranks):
            records = []
            for fid in range(first, min(first + per_dump, passes)):
                ids, count, input_ids = tables[(fid * ranks + r) % 16]
                # Each pass its own tensors, as SGLang's gatherer clones them: torch.save writes every one.
                records.append({"forward_pass_id": fid, "rank": r, "gatherer_key": "primary",
                                "input_ids": list(input_ids), "positions": list(positions), "extend_seq_lens": list(lens),
                                "forward_mode": 1, "topk_ids_of_layer": ids.clone(), "misc_objects": [],
                                "global_physical_count": count.clone()})
            torch.save({"records": records, "last_physical_to_logical_map": torch.from_numpy(p2l)},
                       os.path.join(out, f"expert_distribution_recorder_{1796000000 + d}.0_{r}.pt"))
    json.dump(params, open(os.path.join(out, "params.json"), "w"))
    return passes * ranks


def run(argv: List[str]) -> Tuple[float, int, str]:
    """The import in its own process: (seconds, its peak resident KiB, its summary line)."""
    env = {**os.environ, "PYTHONPATH": os.path.join(REPO, "python"), "OPENBLAS_NUM_THREADS": "1"}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "idamoe_torch", "import", *argv], stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            sys.exit(f"bench_import: the import failed: {err.read().strip()}")
        return seconds, usage.ru_maxrss, out.read().strip()


PRODUCERS: Dict[str, Tuple[Callable[..., int], str, str]] = {
    "megatron": (write_megatron, "records", "MiB of JSON"),
    "sglang": (write_sglang, "per_token records (forward passes)", "MiB of torch.save dumps"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--producer", choices=["megatron", "sglang", "both"], default="both")
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--layers", type=int, default=48)
    parser.add_argument("--experts", type=int, default=128)
    parser.add_argument("--topk", type=int, default=8)
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--per-record", type=int, default=4096, help="tokens per trace record or forward pass")
    parser.add_argument("--work", default="/tmp/idamoe-bench-import")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, {os.cpu_count()} cores")
    for producer in ["megatron", "sglang"] if args.producer == "both" else [args.producer]:
        write, what, files = PRODUCERS[producer]
        for tokens in (args.tokens // 10, args.tokens):
            src = os.path.join(args.work, f"{producer}-{tokens}")
            t0 = time.monotonic()
            records = write(src, tokens=tokens, layers=args.layers, experts=args.experts, topk=args.topk,
                            ranks=args.ranks, per_record=args.per_record)
            written = time.monotonic() - t0
            size = sum(os.path.getsize(os.path.join(src, f)) for f in os.listdir(src))
            extra = ["--experts", str(args.experts)] if producer == "megatron" else []
            out = os.path.join(args.work, f"run-{producer}-{tokens}")
            shutil.rmtree(out, ignore_errors=True)
            seconds, peak_kib, summary = run([producer, src, "--out", out, *extra])
            routed = (tokens // args.ranks // args.per_record) * args.ranks * args.per_record
            print(f"import {producer}: {records:,} {what}, {routed:,} tokens x {args.layers} layers x top-{args.topk} of "
                  f"{args.experts} ({size / 2**20:,.0f} {files}, written in {written:.0f} s): {seconds:.1f} s, "
                  f"{routed / seconds:,.0f} tokens/s, peak resident {peak_kib / 1024:,.0f} MiB")
            print(f"  {summary}")
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
