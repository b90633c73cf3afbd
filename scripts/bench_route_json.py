#!/usr/bin/env python3
"""`idamoe route`'s table against `--json --ep G --redundant R` on one case (a `bench synth` directory):
the same routing, plus the expert-parallel view and the JSON document. Alternates the two commands for
ROUNDS rounds and prints each one's wall times and median.

    scripts/bench_route_json.py DIR [--bin .build/release/idamoe] [--ep 8] [--redundant 8] [--rounds 3] [--threads 2]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir")
    parser.add_argument("--bin", default=".build/release/idamoe")
    parser.add_argument("--ep", default="8")
    parser.add_argument("--redundant", default="8")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", default="2")
    args = parser.parse_args()
    base = [args.bin, "route", "--checkpoint", f"{args.dir}/checkpoint.safetensors", "--probe", f"{args.dir}/probe.safetensors",
            "--threads", args.threads]
    commands = {"table": base, f"--json --ep {args.ep} --redundant {args.redundant}":
                base + ["--json", "--ep", args.ep, "--redundant", args.redundant]}
    times = {name: [] for name in commands}
    for _ in range(args.rounds):
        for name, argv in commands.items():
            started = time.perf_counter()
            done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if done.returncode != 0:
                print(f"bench_route_json: {' '.join(argv)} failed: {done.stderr.strip()}", file=sys.stderr)
                return 1
            times[name].append(time.perf_counter() - started)
    for name, values in times.items():
        print(f"route {name}: median {statistics.median(values):.2f} s wall ({', '.join(f'{v:.2f}' for v in values)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
