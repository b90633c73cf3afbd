"""Where a RunWriter may write and who may write there (docs/format.md "Run directories"): a
new run goes only into a new path or an empty directory, never through a symbolic link, and nothing is
written into a refused one; the one writer holds flock on the directory itself, which deleting files
cannot bypass and which dies with its process; run.json names the run by a fresh `runId`; a failing
append to events.jsonl is a one-line error rather than a loop.
"""
from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import List, Tuple

import pytest
import torch

from torch_support import REPO


def make_writer(run_dir):
    """A RunWriter of one tiny softmax router."""
    from idamoe_torch import RunWriter, SoftmaxRouter

    router = SoftmaxRouter(4, experts=2, top_k=1)
    return RunWriter(run_dir, {0: router}, probe_tokens=torch.arange(3),
                     probe_forward=lambda t: router(torch.randn(t.numel(), 4)))


def listing(root: Path) -> List[Tuple[str, bytes]]:
    """Every entry under `root` (not following links) with a regular file's bytes."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            out.append((str(p.relative_to(root)), p.read_bytes() if p.is_file() and not p.is_symlink() else b""))
    return sorted(out)


def test_empty_path_is_refused_and_nothing_is_written(tmp_path: Path, monkeypatch) -> None:
    from idamoe_torch import ContractError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ContractError, match=r"a run directory needs a path \(got an empty string\)") as err:
        make_writer("")
    assert "\n" not in str(err.value)
    assert listing(tmp_path) == []


def test_a_directory_with_other_files_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    from idamoe_torch import ContractError

    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine\n")
    (folder / "drafts").mkdir()
    (folder / "drafts" / "a.tex").write_text("x")
    before = listing(folder)
    for path in (str(folder), f"{folder}/"):
        with pytest.raises(ContractError, match=re.escape(f"{folder}: exists and is not empty (2 entries); "
                                                          "a new run needs a new or empty directory")):
            make_writer(path)
    assert listing(folder) == before


def test_an_existing_file_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    from idamoe_torch import ContractError

    target = tmp_path / "results.csv"
    target.write_text("a,b\n")
    with pytest.raises(ContractError, match=re.escape(f"{target}: exists and is not a directory")):
        make_writer(str(target))
    assert listing(tmp_path) == [("results.csv", b"a,b\n")]


def test_a_symbolic_link_is_refused_even_to_an_empty_directory(tmp_path: Path) -> None:
    from idamoe_torch import ContractError

    (tmp_path / "elsewhere").mkdir()
    link = tmp_path / "run"
    link.symlink_to(tmp_path / "elsewhere")
    for path in (str(link), f"{link}/"):
        with pytest.raises(ContractError, match=re.escape(f"{link}: is a symbolic link")):
            make_writer(path)
    assert listing(tmp_path / "elsewhere") == []


def test_a_new_path_or_an_empty_directory_is_accepted_and_gets_a_run_id(tmp_path: Path) -> None:
    """Missing parents are made; an empty directory is taken; each run.json carries its own runId (32
    lowercase hex characters); no `lock` file is written; a directory that holds a run is refused."""
    from idamoe_torch import ContractError

    empty = tmp_path / "empty"
    empty.mkdir()
    ids = []
    for run in (empty, tmp_path / "a" / "b" / "run"):
        with make_writer(str(run)) as writer:
            writer.finish(0)
        manifest = json.loads((run / "run.json").read_text())
        assert re.fullmatch(r"[0-9a-f]{32}", manifest["runId"]), manifest["runId"]
        assert manifest["runId"] == writer.run_id
        ids.append(manifest["runId"])
        assert sorted(os.listdir(run)) == ["events.jsonl", "probe.safetensors", "run.json", "snapshots"]
    assert ids[0] != ids[1]
    before = listing(empty)
    with pytest.raises(ContractError, match=re.escape(f"{empty}: already holds a run (run.json)")):
        make_writer(str(empty))
    assert listing(empty) == before


def test_one_writer_even_when_the_run_files_are_deleted(tmp_path: Path) -> None:
    """While a writer is open, deleting every file of its run (so the directory is empty again) does not
    let a second RunWriter or acquire_writer_lock in; after close both may; closing twice is harmless."""
    from idamoe_torch import ContractError, acquire_writer_lock, writer_is_live

    run = tmp_path / "run"
    first = make_writer(str(run))
    assert writer_is_live(str(run))
    with pytest.raises(ContractError, match=re.escape(f"{run}: another writer holds this run (idamoe train or "
                                                      "RunWriter); stop it first")):
        acquire_writer_lock(str(run), wait_seconds=0.05)
    for entry in os.listdir(run):
        path = run / entry
        path.rmdir() if path.is_dir() else path.unlink()
    with pytest.raises(ContractError, match=r"another writer holds this run"):
        make_writer(str(run))  # empty again, but locked: waits the full 2 s, then refuses
    assert os.listdir(run) == []
    with pytest.raises(ContractError, match=r"another writer holds this run"):
        acquire_writer_lock(str(run), wait_seconds=0.05)
    first.close()
    first.close()
    assert not writer_is_live(str(run))
    fd = acquire_writer_lock(str(run), wait_seconds=0.05)
    assert writer_is_live(str(run))
    os.close(fd)
    second = make_writer(str(run))
    second.finish(0)
    assert not writer_is_live(str(run))


def test_a_writer_waits_out_a_readers_liveness_probe(tmp_path: Path) -> None:
    """A shared lock held briefly (a reader asking, slowed down) delays the writer, it does not refuse it."""
    import fcntl

    from idamoe_torch import acquire_writer_lock

    reader = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(reader, fcntl.LOCK_SH)
    timer = threading.Timer(0.2, os.close, (reader,))
    timer.start()
    start = time.monotonic()
    fd = acquire_writer_lock(str(tmp_path))
    waited = time.monotonic() - start
    timer.join()
    os.close(fd)
    assert 0.15 < waited < 1.5, waited


def test_the_lock_dies_with_its_process(tmp_path: Path) -> None:
    """A process holding the writer lock makes the run live; killed with SIGKILL, it leaves it not live
    and lockable at once."""
    from idamoe_torch import acquire_writer_lock, writer_is_live

    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom idamoe_torch.run_lock import "
                               "acquire_writer_lock\nacquire_writer_lock(sys.argv[1])\nprint('locked', flush=True)\n"
                               "time.sleep(120)", str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert writer_is_live(str(run))
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert not writer_is_live(str(run))
    os.close(acquire_writer_lock(str(run), wait_seconds=0.0))


def test_a_failing_events_append_is_a_one_line_error(tmp_path: Path, monkeypatch) -> None:
    """os.write raising ENOSPC, or writing nothing, ends in ContractError naming the reason (not an
    OSError, not an endless loop)."""
    from idamoe_torch import ContractError

    writer = make_writer(str(tmp_path / "run"))
    real_write = os.write
    calls = []

    def full(fd: int, data: bytes) -> int:
        if fd != writer._events_fd:
            return real_write(fd, data)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def nothing(fd: int, data: bytes) -> int:
        if fd != writer._events_fd:
            return real_write(fd, data)
        calls.append(len(data))
        if len(calls) > 100:
            raise RuntimeError("os.write returned 0 a hundred times and the writer kept looping")
        return 0

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(ContractError, match=re.escape(f"{tmp_path / 'run'}: cannot append to events.jsonl "
                                                      "(No space left on device)")):
        writer.eval(1, 1.0)
    monkeypatch.setattr(os, "write", nothing)
    with pytest.raises(ContractError, match=r"cannot append to events\.jsonl \(nothing written\)"):
        writer.eval(1, 1.0)
    monkeypatch.undo()
    writer.close()


def test_a_file_size_limit_stops_the_writer_with_efbig(tmp_path: Path) -> None:
    """RLIMIT_FSIZE just above events.jsonl's size (SIGXFSZ ignored): the next event is cut short by the
    kernel and the writer reports the reason."""
    script = ("import resource, signal, sys, torch\nsys.path.insert(0, sys.argv[2])\n"
              "from test_torch_run_dir import make_writer\nfrom idamoe_torch import ContractError\n"
              "w = make_writer(sys.argv[1])\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
              "size = __import__('os').path.getsize(sys.argv[1] + '/events.jsonl')\n"
              "resource.setrlimit(resource.RLIMIT_FSIZE, (size + 10, resource.RLIM_INFINITY))\n"
              "try:\n    w.eval(1, 1.0)\nexcept ContractError as e:\n    print(e)\n")
    run = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", script, str(run), str(Path(__file__).parent)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == f"{run}: cannot append to events.jsonl (File too large)", proc.stdout


def test_capture_refuses_a_non_empty_out_before_loading_anything(tmp_path: Path) -> None:
    """`python -m idamoe_torch capture --out DIR` with DIR holding a file: one line on stderr, exit 1, DIR
    unchanged (the model directory is never looked at)."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("keep")
    text = tmp_path / "t.txt"
    text.write_text("hello")
    proc = subprocess.run([sys.executable, "-m", "idamoe_torch", "capture", "--model", str(tmp_path / "no-model"),
                           "--text", str(text), "--out", str(out)], capture_output=True, text=True, timeout=120,
                          cwd=REPO)
    assert proc.returncode == 1
    assert proc.stderr == (f"error: {out}: exists and is not empty (1 entry); a new run needs a new or empty "
                           "directory\n"), proc.stderr
    assert listing(out) == [("keep.txt", b"keep")]


def test_swift_and_python_writers_share_one_lock(tmp_path):
    """The Swift trainer and the Python side take the same lock: while `idamoe train` writes a run,
    Python sees it live and cannot take it, and once the trainer is killed the run is not live; a run a
    RunWriter writes carries a runId and `idamoe train --resume` refuses it with one line."""
    from idamoe_torch.run_lock import acquire_writer_lock, writer_is_live
    from torch_support import idamoe_binary

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for d in range(2):
        (corpus / f"d{d}").write_text("%\n".join(f"doc {i} of domain {d}: the quick brown fox {i * d}\n" for i in range(30)))
    run = tmp_path / "swift-run"
    tiny = ["--width", "16", "--heads", "2", "--blocks", "2", "--context", "16", "--experts", "4", "--top-k", "2",
            "--expert-hidden", "16", "--components", "2", "--latent", "4", "--router-hidden", "8", "--batch", "2",
            "--threads", "1", "--quiet"]
    trainer = subprocess.Popen([idamoe_binary(), "train", "--run-dir", str(run), "--corpus", str(corpus),
                                "--steps", "100000"] + tiny, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        while not (run / "run.json").exists() and time.time() < deadline:
            time.sleep(0.05)
        assert (run / "run.json").exists(), trainer.stderr.read() if trainer.poll() is not None else "no run.json"
        assert writer_is_live(str(run))
        with pytest.raises(Exception, match="another writer"):
            acquire_writer_lock(str(run))
    finally:
        trainer.kill()
        trainer.wait()
    assert not writer_is_live(str(run)), "the kernel released the lock of the killed trainer"

    writer = make_writer(str(tmp_path / "py-run"))
    try:
        manifest = json.loads((tmp_path / "py-run" / "run.json").read_text())
        assert re.fullmatch(r"[0-9a-f]{32}", manifest["runId"])
        resumed = subprocess.run([idamoe_binary(), "train", "--resume", str(tmp_path / "py-run")], capture_output=True, text=True)
        assert resumed.returncode == 1 and resumed.stderr.count("\n") == 1, resumed.stderr
    finally:
        writer.close()
