#!/usr/bin/env python3
"""Time and peak memory of `python -m idamoe_torch import megatron` on a router trace of N tokens through
L MoE layers of E experts, top-k (default: 10^6 tokens, 48 x 128, top-8, 2 ranks, 4,096 tokens per
record: 11,720 records, 375 million expert indices). The trace is written once under --work (16 distinct
records cycled, so writing it takes seconds) to Megatron-Core's router_trace.py schema.

    .venv/bin/python scripts/bench_import.py [--tokens N] [--work DIR]

Prints one line per size: records, tokens, seconds, tokens per second and the import's peak resident
memory (ru_maxrss of the child), for N and N / 10, so a bounded memory shows as equal peaks.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_trace(out: str, *, tokens: int, layers: int, experts: int, topk: int, ranks: int, per_record: int) -> int:
    """The trace; returns its record count. Kept when a trace of these parameters is there already."""
    stamp = os.path.join(out, "params.json")
    params = dict(tokens=tokens, layers=layers, experts=experts, topk=topk, ranks=ranks, per_record=per_record)
    records_per_rank = (tokens // ranks // per_record) * layers
    if os.path.exists(stamp) and json.load(open(stamp)) == params:
        return records_per_rank * ranks
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    rng = np.random.default_rng(0)
    # 16 distinct index tables: each token's k distinct experts, skewed towards low indices.
    tables = []
    for _ in range(16):
        scores = rng.gumbel(size=(per_record, experts)) - np.log1p(np.arange(experts)) * 0.3
        idx = np.argsort(-scores, axis=1)[:, :topk]
        tables.append("[" + ",".join("[" + ",".join(map(str, row)) + "]" for row in idx.tolist()) + "]")
    steps = tokens // ranks // per_record
    for r in range(ranks):
        with open(os.path.join(out, f"router_trace_rank{r}.jsonl"), "w") as f:
            n = 0
            for s in range(steps):
                for layer in range(layers):
                    head = json.dumps({"step": s, "stage": "pre_dispatch", "block": "decoder", "layer": layer, "rank": r,
                                       "num_tokens": per_record, "topk": topk})
                    f.write(head[:-1] + ', "top_indices": ' + tables[n % 16] + "}\n")
                    n += 1
    json.dump(params, open(stamp, "w"))
    return records_per_rank * ranks


def run(trace: str, out: str, experts: int) -> "tuple[float, int, str]":
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": os.path.join(REPO, "python"), "OPENBLAS_NUM_THREADS": "1"}
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "idamoe_torch", "import", "megatron", trace, "--out", out,
                           "--experts", str(experts)], capture_output=True, text=True, env=env)
    seconds = time.monotonic() - start
    if done.returncode != 0:
        sys.exit(f"bench_import: the import failed: {done.stderr.strip()}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, peak_kib, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--layers", type=int, default=48)
    parser.add_argument("--experts", type=int, default=128)
    parser.add_argument("--topk", type=int, default=8)
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--per-record", type=int, default=4096)
    parser.add_argument("--work", default="/tmp/idamoe-bench-import")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, {os.cpu_count()} cores")
    # The smaller size first: ru_maxrss of children is the largest so far, so the order matters.
    for tokens in (args.tokens // 10, args.tokens):
        trace = os.path.join(args.work, f"trace-{tokens}")
        t0 = time.monotonic()
        records = write_trace(trace, tokens=tokens, layers=args.layers, experts=args.experts, topk=args.topk,
                              ranks=args.ranks, per_record=args.per_record)
        written = time.monotonic() - t0
        size = sum(os.path.getsize(os.path.join(trace, f)) for f in os.listdir(trace))
        seconds, peak_kib, summary = run(trace, os.path.join(args.work, f"run-{tokens}"), args.experts)
        routed = (tokens // args.ranks // args.per_record) * args.ranks * args.per_record
        print(f"import megatron: {records:,} records, {routed:,} tokens x {args.layers} layers x top-{args.topk} of "
              f"{args.experts} ({size / 2**20:,.0f} MiB of JSON, written in {written:.0f} s): {seconds:.1f} s, "
              f"{routed / seconds:,.0f} tokens/s, peak resident {peak_kib / 1024:,.0f} MiB so far")
        print(f"  {summary}")


if __name__ == "__main__":
    main()
