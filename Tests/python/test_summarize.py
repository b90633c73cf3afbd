"""scripts/summarize_runs.py applies resume events as docs/format.md says: a run interrupted and
resumed with `idamoe train --resume` summarises exactly like the same run trained without a stop."""
import importlib.util
import os
import sys
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from binary_support import idamoe_binary  # noqa: E402

BIN = Path(idamoe_binary())

spec = importlib.util.spec_from_file_location("summarize_runs", REPO / "scripts" / "summarize_runs.py")
summarize_runs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(summarize_runs)

TINY = ["--width", "16", "--heads", "2", "--blocks", "2", "--context", "16", "--batch", "2", "--experts", "4",
        "--expert-hidden", "16", "--components", "2", "--latent", "4", "--router-hidden", "8", "--threads", "1",
        "--quiet", "--snapshot-every", "3", "--eval-every", "3", "--seed", "3"]


def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for d in range(2):
        docs = [f"doc {i} of domain {d}: the quick brown fox {i * d}\n" for i in range(30)]
        (folder / f"d{d}").write_text("%\n".join(docs))
    return folder


def train(*args):
    result = subprocess.run([str(BIN), "train", *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def test_resumed_run_summarises_like_an_uninterrupted_one(tmp_path):
    c = corpus(tmp_path)
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    train("--run-dir", str(straight), "--corpus", str(c), "--steps", "12", *TINY)
    # Kill the second run (SIGKILL) once its step-6 snapshot exists; the steps it logged after 6 are
    # written again by the resume, and only the resume rule keeps each step once.
    proc = subprocess.Popen([str(BIN), "train", "--run-dir", str(stopped), "--corpus", str(c), "--steps", "12", *TINY],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    snapshot = stopped / "snapshots" / "step-00000006.safetensors"
    deadline = time.monotonic() + 120
    while not snapshot.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    proc.kill()
    proc.wait()
    train("--resume", str(stopped), "--quiet")
    a, b = summarize_runs.summarize(str(straight)), summarize_runs.summarize(str(stopped))
    a.pop("run"), b.pop("run")
    a.pop("tok/s"), b.pop("tok/s")
    assert a == b
    steps = [e["step"] for e in summarize_runs.effective_events(str(stopped)) if e["kind"] == "step"]
    assert steps == list(range(1, 13))
