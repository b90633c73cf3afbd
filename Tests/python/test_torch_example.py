"""examples/torch_train.py under torch.distributed (2 gloo processes, a tiny model on a tiny corpus made
here): `idamoe inspect --headless` reads the run while it is being written and again after the run
is killed; the log holds evaluations per corpus file and loads that sum to one.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List

from torch_support import REPO, run_idamoe

EXAMPLE = REPO / "examples" / "torch_train.py"
TINY = ["--width", "16", "--heads", "2", "--blocks", "2", "--context", "16", "--batch", "2", "--experts", "4",
        "--expert-hidden", "16", "--components", "2", "--latent", "4", "--router-hidden", "8", "--snapshot-every", "4",
        "--eval-every", "4", "--warmup", "4", "--quiet"]


def make_corpus(root: Path) -> Path:
    """Three domains of 30 short documents each, in the fortune format."""
    rng = random.Random(5)
    words = {"alpha": "sun moon star sky light dawn", "beta": "code test build run fail pass",
             "gamma": "bread salt milk rice corn bean"}
    root.mkdir()
    for name, vocab in words.items():
        docs = [" ".join(rng.choice(vocab.split()) for _ in range(12)) for _ in range(30)]
        (root / name).write_text("\n%\n".join(docs) + "\n%\n")
    return root


def events(run: Path) -> List[dict]:
    path = run / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def wait_for_snapshots(run: Path, count: int, proc: subprocess.Popen, timeout: float = 150) -> List[int]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        steps = [e["step"] for e in events(run) if e["kind"] == "snapshot"]
        if len(steps) >= count:
            return steps
        assert proc.poll() is None, f"the example exited early ({proc.returncode}): {proc.stderr.read() if proc.stderr else ''}"
        time.sleep(0.2)
    raise AssertionError(f"no {count} snapshots within {timeout} s")


def header_step(frame: str) -> int:
    first = frame.splitlines()[0].split()
    return int(first[first.index("step") + 1])


def test_example_under_two_processes_is_followed_live(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "corpus")
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-W", "ignore", str(EXAMPLE), "--corpus", str(corpus), "--run-dir", str(run),
                             "--nproc", "2", "--steps", "100000", *TINY], stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        wait_for_snapshots(run, 1, proc)
        live = run_idamoe("inspect", str(run), "--headless", "--size", "120x40").stdout
        assert "finished" not in live.splitlines()[0] and "ida router" in live, live
        first = header_step(live)
        wait_for_snapshots(run, len([e for e in events(run) if e["kind"] == "snapshot"]) + 2, proc)
        later = run_idamoe("inspect", str(run), "--headless", "--size", "120x40").stdout
        assert header_step(later) > first, f"the inspector did not follow the run:\n{later}"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    killed = run_idamoe("inspect", str(run), "--headless", "--size", "120x40", "--keys", "4").stdout
    assert "Tokens" in killed.splitlines()[0]
    log = events(run)
    assert log[0]["kind"] == "start" and log[0]["domains"] == ["alpha", "beta", "gamma"]
    evals = [e for e in log if e["kind"] == "eval"]
    assert evals and set(evals[0]["domains"]) == {"alpha", "beta", "gamma"}
    assert evals[0]["heldout_tokens"] > 0 and evals[0]["layers"], "the eval event lacks the held-out CV"
    assert all(len(l["load_gate"]) == len(l["load_topk"]) > 1 for l in evals[0]["layers"])
    for e in (e for e in log if e["kind"] == "step"):
        for layer in e["layers"]:
            assert abs(sum(layer["load"]) - 1) < 1e-4 and len(layer["load"]) == 4
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["model"]["router"] == "ida" and manifest["training"]["processes"] == 2
