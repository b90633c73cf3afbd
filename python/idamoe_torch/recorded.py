"""A run directory of routing decisions another program recorded (docs/format.md, "Recorded routings"),
written by `python -m idamoe_torch import`: step events with the load of every MoE layer summed over
ranks (and each rank's), and snapshots whose checkpoint is a `recorded` router (no tensors) and whose
probe holds each token's experts (and, when recorded, gate weights, logits and router inputs).

Every importer turns its producer's files into `StepRecords` and hands them to one `RecordedRun`,
which owns the files: nothing here knows a producer's schema.

A one-shot import is written into a hidden staging directory beside RUN and renamed onto RUN only once
every record was read, so a bad input leaves nothing under RUN; a `--follow` import writes RUN itself
(the inspector follows it live), each event line and snapshot whole.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
import torch
from safetensors.torch import save as safetensors_bytes

from .files import publish
from .heldout import load_quantiles
from .layers import ContractError
from .run_lock import check_new_run_directory, claim_new_run_directory
from .run_writer import __version__, json_safe, round6, step_name

#: The largest E and block index of the contract (SizeLimits on the Swift side).
MAX_EXPERTS = 1024
MAX_BLOCK = 4095


class ImportError_(ContractError):
    """A record that cannot be imported: one line naming the file, the line and what is wrong."""


def load_shares(counts: np.ndarray) -> List[float]:
    """Counts [E] as shares of their sum (all zero when nothing was routed)."""
    total = float(counts.sum())
    return [round6(float(c) / total) if total > 0 else 0.0 for c in counts]


def load_fields(counts: np.ndarray) -> Dict[str, Any]:
    """A step layer's figures of a load given as counts [E]: `load` (shares), `cv`, `max_vio` and
    `load_quantiles` (of the unrounded shares, as the Swift trainer writes them)."""
    total = float(counts.sum())
    shares = [float(c) / total if total > 0 else 0.0 for c in counts]
    cv, vio = cv_and_max_vio(counts)
    return {"load": [round6(s) for s in shares], "cv": round6(cv), "max_vio": round6(vio),
            "load_quantiles": load_quantiles(shares, round6)}


def cv_and_max_vio(counts: np.ndarray) -> "tuple[float, float]":
    """Coefficient of variation (population standard deviation over mean) and MaxVio (largest over mean,
    minus 1) of a load [E]; both 0 when nothing was routed."""
    c = counts.astype(np.float64)
    mean = float(c.mean()) if c.size else 0.0
    if mean <= 0:
        return 0.0, 0.0
    return float(c.std()) / mean, float(c.max()) / mean - 1.0


def entropy_bits(logits: np.ndarray) -> np.ndarray:
    """Per-row entropy in bits of softmax(logits) [N, E] (float64 throughout)."""
    x = logits.astype(np.float64)
    x = x - x.max(axis=1, keepdims=True)
    e = np.exp(x)
    z = e.sum(axis=1, keepdims=True)
    p = e / z
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(p), 0.0)
    return -terms.sum(axis=1)


@dataclass
class ProbeRows:
    """Tokens of one snapshot's probe, in order: `experts` {block: [N, k] int} for every block, optional
    `weights` {block: [N, k]}, `logits` {block: [N, E]}, `hidden` {block: [N, D]}, `tokens` [N] (None:
    not recorded), `domains` [N] (an index into the run's domain names, e.g. the rank) and `documents`
    [N] (e.g. the request or micro-batch)."""
    experts: Dict[int, np.ndarray]
    tokens: Optional[np.ndarray] = None
    domains: Optional[np.ndarray] = None
    documents: Optional[np.ndarray] = None
    weights: Dict[int, np.ndarray] = field(default_factory=dict)
    logits: Dict[int, np.ndarray] = field(default_factory=dict)
    hidden: Dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return int(next(iter(self.experts.values())).shape[0]) if self.experts else 0


@dataclass
class StepRecords:
    """What a producer recorded at one step (a training iteration, a group of forward passes or
    requests): `counts` {block: [R, E] int64} assignments per rank and expert; `entropy` {block: mean
    bits} when logits were recorded; `tokens` routed (over ranks); `probe` rows when this step is
    snapshotted."""
    step: int
    counts: Dict[int, np.ndarray]
    tokens: int
    entropy: Dict[int, float] = field(default_factory=dict)
    probe: Optional[ProbeRows] = None


class RecordedRun:
    """Writes one recorded-routing run. `experts` E and `top_k` k are the recorded router's (every
    block's); `blocks` are the MoE block indices; `domains` names the domain ids of the probe (the
    ranks, or request kinds); `vocab` is "bytes", a list of token strings, or None (tokens not
    recorded: each token's id is its ordinal in the import, shown "<id>" by an empty vocabulary, so
    probes of different steps never pass for the same tokens); `imported` is run.json's
    `imported` record. `follow`: write RUN directly (a live run), else stage and rename at `finish`."""

    def __init__(self, run_dir: str, *, experts: int, top_k: int, blocks: Sequence[int], imported: Mapping[str, Any],
                 domains: Sequence[str] = (), vocab: Any = None, follow: bool = False,
                 progress: Any = None) -> None:
        if not 1 <= experts <= MAX_EXPERTS:
            raise ContractError(f"{experts} experts: the contract allows 1...{MAX_EXPERTS}")
        if not 1 <= top_k <= experts:
            raise ContractError(f"top-k {top_k}: must be 1...{experts} (the experts)")
        bad = [b for b in blocks if not 0 <= b <= MAX_BLOCK]
        if bad or not blocks:
            raise ContractError(f"MoE block indices {list(blocks)}: need at least one, each 0...{MAX_BLOCK}")
        self.run_dir = os.path.abspath(os.fspath(run_dir))
        self.experts, self.top_k, self.blocks = experts, top_k, sorted(set(blocks))
        self.imported = dict(imported)
        self.domains = list(domains)
        self.vocab = vocab
        self.follow = follow
        self.progress = progress
        self.steps_written = 0
        self.snapshots_written = 0
        self.last_step: Optional[int] = None
        self.tokens_seen = 0
        self._step_base: Dict[int, int] = {}
        self._events_fd: Optional[int] = None
        self._lock_fd: Optional[int] = None
        self._created_final = False
        check_new_run_directory(self.run_dir)
        if follow:
            self._created_final = not os.path.exists(self.run_dir)
            self.dir = self.run_dir
        else:
            parent, name = os.path.split(self.run_dir)
            self.dir = os.path.join(parent, f".{name}.import-{os.getpid()}")
            if os.path.lexists(self.dir):
                shutil.rmtree(self.dir)  # ours: a staging name carries our pid
        self._lock_fd = claim_new_run_directory(self.dir)
        try:
            self._create()
        except BaseException:
            self.abort()
            raise

    # ------------------------------------------------------------------------------------------

    def _create(self) -> None:
        os.mkdir(os.path.join(self.dir, "snapshots"))
        self._events_fd = os.open(os.path.join(self.dir, "events.jsonl"),
                                  os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o644)
        body = {
            "format": 1,
            "producer": f"idamoe_torch {__version__} import",
            "model": {"router": "recorded", "experts": self.experts, "topK": self.top_k},
            "training": {},
            "domains": self.domains,
            "corpusBytes": 0,
            "parameters": 0,
            "probeTokens": 0,
            "created": time.time(),
            "runId": uuid.uuid4().hex,
            "lossUnit": "nats/token",
            "imported": self.imported,
        }
        publish((json.dumps(json_safe(body), indent=2, sort_keys=True) + "\n").encode(), os.path.join(self.dir, "run.json"))
        self._event(0, "start", parameters=0, router="recorded", domains=self.domains)

    def _event(self, step: int, kind: str, **fields: Any) -> None:
        assert self._events_fd is not None
        obj = json_safe({**fields, "v": 1, "step": int(step), "time": round(time.time(), 3), "kind": kind})
        data = (json.dumps(obj, allow_nan=False, separators=(",", ":")) + "\n").encode()
        done = 0
        while done < len(data):
            try:
                n = os.write(self._events_fd, data[done:])
            except OSError as e:
                raise ContractError(f"{self.run_dir}: cannot append to events.jsonl ({e.strerror})") from None
            if n <= 0:
                raise ContractError(f"{self.run_dir}: cannot append to events.jsonl (nothing written)")
            done += n

    def write(self, rec: StepRecords) -> None:
        """The step event of `rec` (and its snapshot when it carries probe rows)."""
        if self.last_step is not None and rec.step <= self.last_step:
            raise ContractError(f"step {rec.step} comes after step {self.last_step}: steps must increase")
        if not 0 <= rec.step <= 99_999_999:
            raise ContractError(f"step {rec.step}: outside 0...99,999,999")
        layers: List[Dict[str, Any]] = []
        for block in sorted(rec.counts):
            per_rank = rec.counts[block]
            if per_rank.ndim != 2 or per_rank.shape[1] != self.experts:
                raise ContractError(f"step {rec.step}, block {block}: counts of shape {list(per_rank.shape)}, "
                                    f"expected [ranks, {self.experts}]")
            total = per_rank.sum(axis=0)
            out: Dict[str, Any] = {"layer": block, **load_fields(total)}
            if block in rec.entropy:
                out["entropy"] = round6(rec.entropy[block])
            if per_rank.shape[0] > 1:
                out["rank_loads"] = [load_shares(r) for r in per_rank]
            layers.append(out)
        cv_mean = sum(l["cv"] for l in layers) / len(layers) if layers else 0.0
        self._event(rec.step, "step", cv_mean=round6(cv_mean), tokens=int(rec.tokens), layers=layers)
        self.steps_written += 1
        self.last_step = rec.step
        self._step_base = {rec.step: self.tokens_seen}
        self.tokens_seen += int(rec.tokens)
        if rec.probe is not None and rec.probe.count > 0:
            self.snapshot(rec.step, rec.probe)

    def snapshot(self, step: int, rows: ProbeRows) -> None:
        """snapshots/step-XXXXXXXX.safetensors (the recorded router: metadata only) and its probe."""
        n = rows.count
        blocks = sorted(rows.experts)
        tensors: Dict[str, torch.Tensor] = {}
        if rows.tokens is None:
            base = self._step_base.get(step, 0)
            tokens = ((base + np.arange(n, dtype=np.int64)) % (1 << 31)).astype(np.int32)
            vocab = "[]"
        else:
            tokens = np.asarray(rows.tokens, dtype=np.int32)
            vocab = "bytes" if self.vocab == "bytes" else json.dumps(list(self.vocab or []))
            if self.vocab is None:
                raise ContractError("token ids need a vocabulary")
        tensors["tokens"] = torch.from_numpy(np.ascontiguousarray(tokens))
        for name, ids in (("domains", rows.domains), ("documents", rows.documents)):
            if ids is not None:
                if len(ids) != n:
                    raise ContractError(f"snapshot {step}: {name} has {len(ids)} entries, tokens {n}")
                tensors[name] = torch.from_numpy(np.ascontiguousarray(np.asarray(ids, dtype=np.int32)))
        for b in blocks:
            ex = np.asarray(rows.experts[b])
            if ex.shape != (n, self.top_k):
                raise ContractError(f"snapshot {step}, block {b}: experts of shape {list(ex.shape)}, expected [{n}, {self.top_k}]")
            if ex.size and (ex.min() < 0 or ex.max() >= self.experts):
                raise ContractError(f"snapshot {step}, block {b}: an expert index outside 0...{self.experts - 1}")
            tensors[f"layers.{b}.experts"] = torch.from_numpy(np.ascontiguousarray(ex.astype(np.int32)))
            for kind, table, width in (("weights", rows.weights, self.top_k), ("logits", rows.logits, self.experts)):
                if b in table:
                    v = np.asarray(table[b], dtype=np.float32)
                    if v.shape != (n, width):
                        raise ContractError(f"snapshot {step}, block {b}: {kind} of shape {list(v.shape)}, expected [{n}, {width}]")
                    if not np.isfinite(v).all():
                        raise ContractError(f"snapshot {step}, block {b}: {kind} hold a non-finite value")
                    tensors[f"layers.{b}.{kind}"] = torch.from_numpy(np.ascontiguousarray(v))
            if b in rows.hidden:
                h = np.asarray(rows.hidden[b], dtype=np.float32)
                if h.ndim != 2 or h.shape[0] != n:
                    raise ContractError(f"snapshot {step}, block {b}: hidden states of shape {list(h.shape)}, expected [{n}, D]")
                if not np.isfinite(h).all():
                    raise ContractError(f"snapshot {step}, block {b}: hidden states hold a non-finite value")
                tensors[f"layers.{b}.hidden"] = torch.from_numpy(np.ascontiguousarray(h))
        probe_meta = {"idamoe.format": "1", "idamoe.vocab": vocab, "idamoe.step": str(step)}
        if self.domains:
            probe_meta["idamoe.domain_names"] = json.dumps(self.domains)
        stem = os.path.join(self.dir, "snapshots", step_name(step))
        publish(safetensors_bytes(tensors, metadata=probe_meta), stem + ".probe.safetensors")
        meta = {"idamoe.format": "1", "idamoe.router": "recorded", "idamoe.experts": str(self.experts),
                "idamoe.top_k": str(self.top_k), "idamoe.moe_layers": ",".join(str(b) for b in blocks),
                "idamoe.step": str(step), "idamoe.producer": f"idamoe_torch {__version__} import"}
        publish(safetensors_bytes({}, metadata=meta), stem + ".safetensors")
        self._event(step, "snapshot", path=f"snapshots/{step_name(step)}.safetensors",
                    probe=f"snapshots/{step_name(step)}.probe.safetensors")
        self.snapshots_written += 1

    def finish(self) -> None:
        """The `done` event; a staged import is renamed onto RUN (which must still be absent or empty)."""
        if self.steps_written == 0:
            raise ContractError("no complete step was found in the records; nothing was written")
        self._event(self.last_step or 0, "done")
        if self._events_fd is not None:
            os.close(self._events_fd)
            self._events_fd = None
        if not self.follow:
            check_new_run_directory(self.run_dir)
            try:
                os.rename(self.dir, self.run_dir)  # onto a missing path or an empty directory, atomically
            except OSError as e:
                raise ContractError(f"{self.run_dir}: cannot receive the import ({e.strerror})") from None
            self.dir = self.run_dir
        self._release()

    def stop(self) -> None:
        """A follow import stopped (Ctrl-C): the run keeps every complete step; no `done` is logged."""
        if self._events_fd is not None:
            os.close(self._events_fd)
            self._events_fd = None
        self._release()

    def abort(self) -> None:
        """Removes what this import wrote (the staging directory, or a follow run created here before its
        first step); a directory that existed before keeps only what it held (nothing)."""
        if self._events_fd is not None:
            os.close(self._events_fd)
            self._events_fd = None
        if not self.follow or self.steps_written == 0:
            target = self.dir
            if os.path.isdir(target) and not os.path.islink(target):
                if self.follow and not self._created_final:
                    for entry in os.listdir(target):  # an empty directory the user gave stays, empty
                        p = os.path.join(target, entry)
                        shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.unlink(p)
                else:
                    shutil.rmtree(target, ignore_errors=True)
        self._release()

    def _release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def say(line: str) -> None:
    """A progress or summary line on stderr."""
    print(line, file=sys.stderr, flush=True)


def finite_or_none(x: float) -> Optional[float]:
    return x if math.isfinite(x) else None
