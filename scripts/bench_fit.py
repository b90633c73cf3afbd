#!/usr/bin/env python3
"""fit-ida's wall time and peak memory on a synthetic probe of a real model's size (issue: "fit-ida
that fits in seconds"): L blocks of N tokens at width D, stored as bfloat16 (as a capture of a bf16
model stores them), each block's tokens drawn around 64 centres of its own. The probe is streamed to
disk one block at a time (48 x 100,000 x 1024 is 9.8 GB), fit-ida runs as a child process with the
given threads, and its own progress lines go to stderr as they come.

    .venv/bin/python scripts/bench_fit.py --layers 48 --tokens 100000 --dim 1024 --experts 128
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

CENTRES = 64
CHUNK = 8192


def write_probe(path: Path, layers: int, tokens: int, dim: int) -> None:
    """A safetensors probe written block by block: `tokens` (I64 [N]) and `layers.{i}.hidden` (BF16 [N, D])."""
    header = {"tokens": {"dtype": "I64", "shape": [tokens], "data_offsets": [0, 8 * tokens]}}
    offset = 8 * tokens
    for i in range(layers):
        size = 2 * tokens * dim
        header[f"layers.{i}.hidden"] = {"dtype": "BF16", "shape": [tokens, dim], "data_offsets": [offset, offset + size]}
        offset += size
    header["__metadata__"] = {"idamoe.vocab": "[]"}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    g = torch.Generator().manual_seed(0)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        f.write((torch.arange(tokens, dtype=torch.int64) % 256).numpy().tobytes())
        for _ in range(layers):
            centres = torch.randn(CENTRES, dim, generator=g) * 2
            for start in range(0, tokens, CHUNK):
                n = min(CHUNK, tokens - start)
                rows = centres[torch.randint(0, CENTRES, (n,), generator=g)] + torch.randn(n, dim, generator=g)
                f.write(rows.to(torch.bfloat16).view(torch.int16).numpy().tobytes())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--layers", type=int, default=48)
    parser.add_argument("--tokens", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--experts", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep", help="write the probe here and keep it (default: a temporary directory)")
    args, extra = parser.parse_known_args()
    where = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="idamoe-bench-fit-"))
    where.mkdir(parents=True, exist_ok=True)
    probe = where / "probe.safetensors"
    started = time.perf_counter()
    if not probe.exists():
        write_probe(probe, args.layers, args.tokens, args.dim)
    print(f"probe: {args.layers} blocks x {args.tokens} tokens x D {args.dim} BF16, "
          f"{probe.stat().st_size / 2**30:.1f} GiB, written in {time.perf_counter() - started:.0f} s", flush=True)
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    command = [sys.executable, "-m", "idamoe_torch", "fit-ida", "--probe", str(probe), "--out", str(where / "fit.safetensors"),
               "--experts", str(args.experts), "--threads", str(args.threads), *extra]
    try:
        t0 = time.perf_counter()
        done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True)
        seconds = time.perf_counter() - t0
    finally:
        if not args.keep:
            for p in where.iterdir():
                p.unlink()
            where.rmdir()
    if done.returncode != 0:
        print(f"bench_fit: fit-ida failed ({done.returncode})", file=sys.stderr)
        return 1
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    per_layer = seconds / args.layers
    print(f"fit-ida: {args.layers} blocks x {args.experts} experts, {args.tokens} tokens, D {args.dim}, "
          f"{args.threads} threads: {seconds:.0f} s wall ({per_layer:.1f} s a block), peak {peak:.0f} MiB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
