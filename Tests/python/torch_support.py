"""Shared by the tests of the PyTorch package (python/idamoe_torch): the idamoe binary, running it,
and comparing its `route --jsonl` lines with a PyTorch router's own decisions.

The binary is $IDAMOE_BIN (default .build/debug/idamoe under the repository root); these tests fail,
never skip, when it is missing. Torch runs on one thread so the suite stays fast on 2 cores.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Dict, List, Mapping, Sequence

import numpy as np
import torch

from binary_support import idamoe_binary  # noqa: F401  (re-exported for the torch tests)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

torch.set_num_threads(1)

#: Weights must agree within this (absolute and relative); log-densities within LOG_DENSITY_RTOL relative.
WEIGHT_TOL = 1e-4
LOG_DENSITY_RTOL = 1e-3
#: Expert scores this close (relative) count as tied: either expert may come first.
TIE_RTOL = 1e-5


def run_idamoe(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Runs the binary; asserts exit 0 and shows stderr when it is not."""
    proc = subprocess.run([idamoe_binary(), *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"idamoe {' '.join(args)}: exit {proc.returncode}; stderr: {proc.stderr.strip()}"
    return proc


def route_lines(checkpoint: str, probe: str, *extra: str) -> List[dict]:
    """`idamoe route --checkpoint C --probe P --jsonl` parsed, one dict per token and layer."""
    return [json.loads(line) for line in run_idamoe("route", "--checkpoint", checkpoint, "--probe", probe,
                                                    "--jsonl", *extra).stdout.splitlines()]


def compare_routes(lines: Sequence[dict], routes: Mapping[int, Dict[str, torch.Tensor]], tokens: int) -> List[str]:
    """Problems where Swift's lines disagree with PyTorch's routes ({layer: router.route(h)}): experts
    differ away from a tie, weights beyond WEIGHT_TOL, log-densities beyond LOG_DENSITY_RTOL."""
    layers = sorted(routes)
    problems: List[str] = []
    if len(lines) != tokens * len(layers):
        problems.append(f"{len(lines)} lines, expected {tokens} tokens x {len(layers)} layers")
    for idx, line in enumerate(lines[: tokens * len(layers)]):
        token, layer = idx // len(layers), layers[idx % len(layers)]
        where = f"token {token}, layer {layer}"
        if (line["token"], line["layer"]) != (token, layer):
            problems.append(f"line {idx}: token {line['token']} layer {line['layer']}, expected {where}")
            continue
        r = routes[layer]
        want = r["experts"][token].tolist()
        # What top-k ranked: sigmoid-bias routers select by score + bias, IDA by expert score g.
        ranked = next(r[key] for key in ("selection", "scores", "probabilities") if key in r)
        scores = ranked[token].double().numpy()
        got = line["experts"]
        if got != want:
            tied = all(abs(scores[g] - scores[w]) <= TIE_RTOL * max(abs(scores[g]), abs(scores[w]))
                       for g, w in zip(got, want))
            if not tied:
                problems.append(f"{where}: Swift experts {got}, PyTorch {want} (scores {scores.tolist()})")
                continue
        if not np.allclose(line["weights"], r["weights"][token].double().numpy(), rtol=WEIGHT_TOL, atol=WEIGHT_TOL):
            problems.append(f"{where}: Swift weights {line['weights']}, PyTorch {r['weights'][token].tolist()}")
        if "log_density" in r:
            want_ld = float(r["log_density"][token])
            if line["log_density"] is None or abs(line["log_density"] - want_ld) > LOG_DENSITY_RTOL * abs(want_ld):
                problems.append(f"{where}: Swift log_density {line['log_density']}, PyTorch {want_ld}")
        elif line["log_density"] is not None:
            problems.append(f"{where}: Swift log_density {line['log_density']} for a softmax router (null expected)")
        if len(problems) >= 12:
            problems.append("... (stopping after 12 problems)")
            break
    return problems
