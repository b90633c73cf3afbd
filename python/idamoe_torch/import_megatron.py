"""`python -m idamoe_torch import megatron SRC --out RUN`: Megatron-Core's routing records as a run.

Two kinds of records, found in SRC (a directory):

- Router traces (`--moe-routing-trace-path SRC`, megatron/core/transformer/moe/router_trace.py):
  `router_trace_rank{r}.jsonl`, one line per step, block and layer with `step`, `stage`, `block`
  (`decoder` or `mtp`), `layer`, `rank`, `num_tokens`, `topk`, `top_indices` [num_tokens][topk] and,
  optionally, `mtp_idx` and the bf16 sidecars `hidden_states_rank{r}.bin` (`hs_offset`, `hs_bytes`,
  `hs_shape`) and `logits_rank{r}.bin` (`logit_offset`, `logit_bytes`, `logit_shape`); with
  `--moe-routing-trace-dump-weights`, `router_state_rank{r}.pt` (the router weights and score
  function). Step events: every layer's load summed over ranks, each rank's, and the entropy when the
  logits were traced. Snapshots: the traced tokens' experts (and logits and router inputs) as a probe.
- Tokens-per-expert logs (`--save-tokens-per-expert-interval`, megatron/training/activation_logging.py):
  `tokens_per_expert/rank{r}.jsonl` (SRC may be that folder or the directory holding it), one line per
  logged iteration and layer with `iter`, `block`, `layer`, `tpe` [micro-batches][local experts]. Step
  events only (no per-token records).

Ranks must be 0 ... R-1 with none missing. MTP records are left out (noted in run.json).
"""
from __future__ import annotations

import math
import os
import re
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Deque, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import numpy as np
import torch

from .jsonlines import JsonLines, field
from .layers import ContractError
from .recorded import MAX_EXPERTS, ProbeRows, StepRecords, entropy_bits

TRACE_FILE = re.compile(r"^router_trace_rank(\d+)\.jsonl$")
TPE_FILE = re.compile(r"^rank(\d+)\.jsonl$")
#: A followed step is taken as complete once no file grew for this long (Megatron appends a step's
#: records in one burst at the end of the iteration).
IDLE_SECONDS = 2.0


def _ranks(directory: str, pattern: "re.Pattern[str]", what: str) -> Dict[int, str]:
    """{rank: path} of the files matching `pattern` in `directory`; ranks must be 0 ... R-1."""
    found = {}
    for name in os.listdir(directory):
        m = pattern.match(name)
        if m:
            found[int(m.group(1))] = os.path.join(directory, name)
    if found:
        expected = set(range(max(found) + 1))
        missing = sorted(expected - set(found))
        if missing:
            example = pattern.pattern.replace("^", "").replace("$", "").replace("(\\d+)", str(missing[0])).replace("\\", "")
            raise ContractError(f"{directory}: {example} is missing (found the {what} of ranks "
                                f"{', '.join(str(r) for r in sorted(found))}); every rank's file is needed")
    return dict(sorted(found.items()))


def detect(src: str) -> Tuple[str, str, Dict[int, str]]:
    """(kind, directory, {rank: path}): kind `trace` or `tpe`."""
    if not os.path.isdir(src):
        raise ContractError(f"{src}: not a directory (give the directory of --moe-routing-trace-path, "
                            "or the save directory holding tokens_per_expert/)")
    trace = _ranks(src, TRACE_FILE, "router traces")
    if trace:
        return "trace", src, trace
    for directory in (os.path.join(src, "tokens_per_expert"), src):
        if os.path.isdir(directory):
            tpe = _ranks(directory, TPE_FILE, "tokens-per-expert logs")
            if tpe:
                return "tpe", directory, tpe
    raise ContractError(f"{src}: holds no router_trace_rank*.jsonl (Megatron's --moe-routing-trace-path) and no "
                        "tokens_per_expert/rank*.jsonl (--save-tokens-per-expert-interval)")


# ----------------------------------------------------------------------------------------------
# router traces


@dataclass
class TraceRecord:
    """One line of a router trace, its indices parsed."""
    rank: int
    line: int
    step: int
    layer: int
    indices: np.ndarray  # [n, k] int32
    hs: Optional[Tuple[int, int, List[int]]]
    logits: Optional[Tuple[int, int, List[int]]]


def _sidecar(path: str, line: int, obj: Dict[str, Any], prefix: str) -> Optional[Tuple[int, int, List[int]]]:
    if f"{prefix}_offset" not in obj:
        return None
    offset = field(path, line, obj, f"{prefix}_offset", int)
    size = field(path, line, obj, f"{prefix}_bytes", int)
    shape = field(path, line, obj, f"{prefix}_shape", list)
    if len(shape) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise ContractError(f"{path}:{line}: {prefix}_shape {shape} is not [tokens, width]")
    if offset < 0 or size != shape[0] * shape[1] * 2:
        raise ContractError(f"{path}:{line}: {prefix}_bytes {size} is not {shape[0]} x {shape[1]} bf16 values "
                            f"({shape[0] * shape[1] * 2} bytes) at offset {offset}")
    return offset, size, shape


class RankTrace:
    """One rank's trace file, read as it grows into groups of records of one step."""

    def __init__(self, rank: int, path: str) -> None:
        self.rank, self.path = rank, path
        self.reader = JsonLines(path, tables=("top_indices",))
        self.groups: Deque[Tuple[int, List[TraceRecord]]] = deque()
        self.open_step: Optional[int] = None
        self.open: List[TraceRecord] = []
        self.skipped_mtp = 0
        self.other_stages: Dict[str, int] = {}
        self.topk: Optional[int] = None
        self.max_index = -1
        self.last_growth = time.monotonic()
        self._size = -1
        self.at_end = False

    def fill(self) -> None:
        """Reads lines until a complete step waits in `groups` or no complete line is left (`at_end`):
        at most one step of this rank is held in memory besides the first record of the next."""
        size = self.reader.size()
        if size != self._size:
            self._size = size
            self.last_growth = time.monotonic()
        while not self.groups:
            item = self.reader.next_line()
            if item is None:
                self.at_end = True
                return
            self.at_end = False
            line, obj = item
            rec = self._parse(line, obj)
            if rec is None:
                continue
            if self.open_step is None or rec.step == self.open_step:
                self.open_step = rec.step
                self.open.append(rec)
                continue
            if rec.step < self.open_step:
                raise ContractError(f"{self.path}:{line}: step {rec.step} after step {self.open_step}: the records "
                                    "of a rank must come in step order")
            self.groups.append((self.open_step, self.open))
            self.open_step, self.open = rec.step, [rec]

    def scan(self) -> int:
        """The largest expert index of the whole file, reading it once without keeping records."""
        while True:
            item = self.reader.next_line()
            if item is None:
                self.reader.finish()
                return self.max_index
            self._parse(*item)

    def close_open(self) -> None:
        if self.open:
            assert self.open_step is not None
            self.groups.append((self.open_step, self.open))
            self.open_step, self.open = None, []

    def _parse(self, line: int, obj: Dict[str, Any]) -> Optional[TraceRecord]:
        p = self.path
        block = field(p, line, obj, "block", str)
        if block == "mtp" or obj.get("mtp_idx") is not None:
            self.skipped_mtp += 1
            return None
        if block != "decoder":
            raise ContractError(f"{p}:{line}: block {block!r} is neither decoder nor mtp (another version's trace?)")
        stage = obj.get("stage", "pre_dispatch")
        if stage != "pre_dispatch":
            self.other_stages[str(stage)] = self.other_stages.get(str(stage), 0) + 1
            return None
        step = field(p, line, obj, "step", int)
        layer = field(p, line, obj, "layer", int)
        rank = field(p, line, obj, "rank", int)
        if rank != self.rank:
            raise ContractError(f"{p}:{line}: rank {rank} in the file of rank {self.rank}")
        n = field(p, line, obj, "num_tokens", int)
        k = field(p, line, obj, "topk", int)
        if step < 0 or not 0 <= layer <= 4095 or n < 0 or not 1 <= k <= MAX_EXPERTS:
            raise ContractError(f"{p}:{line}: step {step}, layer {layer}, num_tokens {n}, topk {k}: out of range")
        raw = obj.get("top_indices")
        if isinstance(raw, np.ndarray):  # read by JsonLines' integer-table path
            indices = raw if raw.size else np.zeros((0, k), dtype=np.int64)
        else:
            raw = field(p, line, obj, "top_indices", list)
            try:
                indices = np.asarray(raw, dtype=np.int64) if raw else np.zeros((0, k), dtype=np.int64)
            except (ValueError, TypeError, OverflowError):
                raise ContractError(f"{p}:{line}: top_indices is not a list of integer lists") from None
        if indices.shape != (n, k):
            raise ContractError(f"{p}:{line}: top_indices has shape {list(indices.shape)}, num_tokens and topk say [{n}, {k}]")
        if indices.size:
            low, high = int(indices.min()), int(indices.max())
            if low < 0:
                raise ContractError(f"{p}:{line}: top_indices holds a negative expert {low}")
            self.max_index = max(self.max_index, high)
        if self.topk is None:
            self.topk = k
        elif k != self.topk:
            raise ContractError(f"{p}:{line}: topk {k}, earlier records {self.topk}: one top-k per run")
        return TraceRecord(self.rank, line, step, layer, indices.astype(np.int32),
                           _sidecar(p, line, obj, "hs"), _sidecar(p, line, obj, "logit"))


def _best_first(chosen: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Each token's chosen experts [n, k] ordered by their scores [n, E], highest first (ties keep the
    listed order): a training trace lists them by index, as the router's boolean routing map holds them."""
    order = np.argsort(-np.take_along_axis(scores, chosen.astype(np.int64), axis=1), axis=1, kind="stable")
    return np.take_along_axis(chosen, order, axis=1)


class Sidecar:
    """A bf16 sidecar file (hidden states or logits of one rank), read by offset."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file: Optional[Any] = None

    def read(self, where: Tuple[int, int, List[int]], rows: Optional[int] = None) -> np.ndarray:
        """The float32 [rows, width] at `where` (its first `rows` rows when given)."""
        offset, size, shape = where
        if self._file is None:
            try:
                self._file = open(self.path, "rb")
            except OSError as e:
                raise ContractError(f"{self.path}: the trace refers to it but it cannot be read ({e.strerror})") from None
        n = shape[0] if rows is None else min(rows, shape[0])
        want = n * shape[1] * 2
        length = os.fstat(self._file.fileno()).st_size
        if offset + size > length:
            raise ContractError(f"{self.path}: a record wants bytes {offset} ... {offset + size} of a {length}-byte file "
                                "(truncated sidecar)")
        self._file.seek(offset)
        data = self._file.read(want)
        bits = np.frombuffer(data, dtype=np.uint16).astype(np.uint32) << 16
        out = bits.view(np.float32).reshape(n, shape[1])
        if not np.isfinite(out).all():
            raise ContractError(f"{self.path}: a non-finite value in the record at offset {offset}")
        return out


def router_state(directory: str, ranks: Sequence[int]) -> Tuple[Optional[int], Optional[str]]:
    """(E, score function) from `router_state_rank{r}.pt` when the trace dumped router weights: read
    with torch.load(weights_only=True) (tensors, strings, numbers and containers only)."""
    for r in ranks:
        path = os.path.join(directory, f"router_state_rank{r}.pt")
        if not os.path.exists(path):
            continue
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # an unpickler refusal names the forbidden global
            raise ContractError(f"{path}: not a file of plain tensors ({str(e).splitlines()[0][:120]}); "
                                "nothing else is unpickled") from None
        if not isinstance(state, dict):
            raise ContractError(f"{path}: holds a {type(state).__name__}, expected a dict of router states")
        for value in state.values():
            if isinstance(value, dict) and torch.is_tensor(value.get("weight")) and value["weight"].dim() == 2:
                score = value.get("score_function")
                return int(value["weight"].shape[0]), score if isinstance(score, str) else None
    return None, None


class TraceImport:
    """A Megatron router trace as `StepRecords`."""

    def __init__(self, directory: str, files: Dict[int, str], *, experts: Optional[int], score_function: Optional[str],
                 snapshot_every: int, probe_tokens: int, follow: bool, hidden: bool) -> None:
        self.directory, self.files = directory, files
        self.ranks = [RankTrace(r, p) for r, p in files.items()]
        self.follow = follow
        self.snapshot_every, self.probe_tokens, self.want_hidden = snapshot_every, probe_tokens, hidden
        state_experts, state_score = router_state(directory, list(files))
        self.score_function = score_function or state_score or "softmax"
        if self.score_function not in ("softmax", "sigmoid"):
            raise ContractError(f"score function {self.score_function!r}: softmax or sigmoid")
        self.experts = experts or state_experts
        self.hs = {r: Sidecar(os.path.join(directory, f"hidden_states_rank{r}.bin")) for r in files}
        self.lg = {r: Sidecar(os.path.join(directory, f"logits_rank{r}.bin")) for r in files}
        self.notes: List[str] = []
        self.first_step: Optional[int] = None
        self.blocks: List[int] = []
        self.topk = 0
        self._pending_last: Optional[Tuple[int, Dict[int, List[TraceRecord]]]] = None
        self.probe_skipped: Optional[str] = None
        #: How the probes' experts are ordered: "logits" (best first), "trace" (as listed).
        self.probe_order: Set[str] = set()

    # -- header ------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Reads until the first step is complete (following: waits for it) to learn the blocks, top-k and
        E (logit widths, the router state, --experts, or, one-shot, the largest index in the whole
        trace)."""
        while True:
            self._fill()
            if self._ready():
                break
            if not self.follow:
                raise ContractError(f"{self.directory}: the router traces hold no decoder record")
            time.sleep(0.2)
        first = min(r.groups[0][0] for r in self.ranks if r.groups)
        layers = sorted({rec.layer for r in self.ranks if r.groups and r.groups[0][0] == first for rec in r.groups[0][1]})
        self.blocks = layers
        self.topk = next(r.topk for r in self.ranks if r.topk)
        widths = {rec.logits[2][1] for r in self.ranks for _, g in r.groups for rec in g if rec.logits}
        if self.experts is None and widths:
            self.experts = max(widths)
        if self.experts is None:
            if self.follow:
                raise ContractError("the trace does not say how many experts the model has (no logits, no router state): "
                                    "give --experts E (Megatron's --num-experts)")
            self.experts = max(RankTrace(r.rank, r.path).scan() for r in self.ranks) + 1
            self.notes.append(f"E = {self.experts}: the largest expert index in the trace plus one (no --experts given)")
        if not 1 <= self.experts <= MAX_EXPERTS:
            raise ContractError(f"{self.experts} experts: the contract allows 1...{MAX_EXPERTS}")
        if self.topk > self.experts:
            raise ContractError(f"topk {self.topk} exceeds the {self.experts} experts")
        if self.score_function == "sigmoid":
            self.notes.append("sigmoid scores: entropy and the probe's expert distribution from s / sum s")

    def _idle(self) -> bool:
        return time.monotonic() - max(x.last_growth for x in self.ranks) >= IDLE_SECONDS

    def _fill(self) -> None:
        """Every rank read up to its next complete step; a rank with nothing more closes its open step
        at the end of the file (one-shot) or once the files went idle (follow)."""
        for r in self.ranks:
            r.fill()
            if r.at_end and not r.groups:
                if not self.follow:
                    r.reader.finish()
                    r.close_open()
                elif self._idle() and not r.reader.torn:
                    r.close_open()

    def _ready(self) -> bool:
        """Whether the next step is known complete on every rank."""
        return (all(r.groups or (r.at_end and not r.open) for r in self.ranks)
                and any(r.groups for r in self.ranks))

    # -- steps -------------------------------------------------------------------------------

    def records(self) -> Iterator[StepRecords]:
        """Every complete step in order (following: forever, waiting for more)."""
        while True:
            self._fill()
            if self._ready():
                step = min(r.groups[0][0] for r in self.ranks if r.groups)
                by_rank = {r.rank: r.groups.popleft()[1] for r in self.ranks if r.groups and r.groups[0][0] == step}
                yield self._step(step, by_rank)
                continue
            if not self.follow:
                return
            time.sleep(0.25)

    def final_snapshot(self) -> Optional[Tuple[int, ProbeRows]]:
        """The last step's probe when it was not snapshotted as it went by (one-shot imports end on one)."""
        last, self._pending_last = self._pending_last, None
        if last is None:
            return None
        rows = self._probe(last[0], last[1])
        return None if rows is None else (last[0], rows)

    def _step(self, step: int, by_rank: Dict[int, List[TraceRecord]]) -> StepRecords:
        if self.first_step is None:
            self.first_step = step
        e, r_count = self.experts or 0, len(self.ranks)
        counts: Dict[int, np.ndarray] = {}
        ent_sum: Dict[int, float] = {}
        ent_n: Dict[int, int] = {}
        tokens_by_rank: Dict[int, int] = {}
        for rank, recs in by_rank.items():
            per_layer: Dict[int, int] = {}
            for rec in recs:
                if rec.indices.size and int(rec.indices.max()) >= e:
                    raise ContractError(f"{self.ranks[rank].path}:{rec.line}: expert {int(rec.indices.max())} "
                                        f"is not below E = {e}")
                table = counts.setdefault(rec.layer, np.zeros((r_count, e), dtype=np.int64))
                table[rank] += np.bincount(rec.indices.reshape(-1), minlength=e)[:e]
                per_layer[rec.layer] = per_layer.get(rec.layer, 0) + rec.indices.shape[0]
                if rec.logits is not None:
                    logits = self._scores(self.lg[rank].read(rec.logits), rec)
                    h = entropy_bits(logits)
                    ent_sum[rec.layer] = ent_sum.get(rec.layer, 0.0) + float(h.sum())
                    ent_n[rec.layer] = ent_n.get(rec.layer, 0) + len(h)
            tokens_by_rank[rank] = max(per_layer.values()) if per_layer else 0
        entropy = {b: ent_sum[b] / ent_n[b] for b in ent_sum if ent_n[b] > 0}
        snap = step == self.first_step or (self.snapshot_every > 0 and step % self.snapshot_every == 0)
        probe = self._probe(step, by_rank) if snap else None
        self._pending_last = None if snap else (step, by_rank)
        return StepRecords(step=step, counts=counts, tokens=sum(tokens_by_rank.values()), entropy=entropy, probe=probe)

    def _scores(self, logits: np.ndarray, rec: TraceRecord) -> np.ndarray:
        """Logits whose softmax is the router's expert distribution (sigmoid routers: log sigmoid)."""
        if logits.shape[1] != self.experts:
            raise ContractError(f"{self.ranks[rec.rank].path}:{rec.line}: logits of width {logits.shape[1]}, E is {self.experts}")
        if self.score_function == "sigmoid":
            return -np.logaddexp(0.0, -logits.astype(np.float64))
        return logits

    def _probe(self, step: int, by_rank: Dict[int, List[TraceRecord]]) -> Optional[ProbeRows]:
        """The first tokens of the step on every rank (an equal share of --probe-tokens each), with their
        experts per block, logits and router inputs when traced. None (noted once) when a rank's layers
        saw different token counts (pipeline stages number their layers from 0 each)."""
        share = max(1, math.ceil(self.probe_tokens / max(len(by_rank), 1)))
        experts: Dict[int, List[np.ndarray]] = {b: [] for b in self.blocks}
        logits: Dict[int, List[np.ndarray]] = {b: [] for b in self.blocks}
        hidden: Dict[int, List[np.ndarray]] = {b: [] for b in self.blocks}
        domains: List[np.ndarray] = []
        documents: List[np.ndarray] = []
        document = 0
        for rank in sorted(by_rank):
            per_layer: Dict[int, List[TraceRecord]] = {}
            for rec in by_rank[rank]:
                per_layer.setdefault(rec.layer, []).append(rec)
            totals = {b: sum(x.indices.shape[0] for x in recs) for b, recs in per_layer.items()}
            if set(per_layer) != set(self.blocks) or len(set(totals.values())) > 1:
                self.probe_skipped = (f"no probe at step {step}: rank {rank}'s layers {sorted(per_layer)} saw token counts "
                                      f"{sorted(set(totals.values()))}, not the same tokens at every block of {self.blocks} "
                                      "(a pipeline-parallel trace numbers each stage's layers from 0)")
                return None
            n = min(share, next(iter(totals.values())))
            for b in self.blocks:
                left = n
                doc = document
                for rec in per_layer[b]:
                    if left <= 0:
                        break
                    take = min(left, rec.indices.shape[0])
                    chosen = rec.indices[:take]
                    if b == self.blocks[0]:
                        domains.append(np.full(take, rank, dtype=np.int32))
                        documents.append(np.full(take, doc, dtype=np.int32))
                    doc += 1
                    if rec.logits is not None:
                        scores = self._scores(self.lg[rank].read(rec.logits, take), rec).astype(np.float32)
                        logits[b].append(scores)
                        chosen = _best_first(chosen, scores)
                        self.probe_order.add("logits")
                    else:
                        self.probe_order.add("trace")
                    experts[b].append(chosen)
                    if self.want_hidden and rec.hs is not None:
                        hidden[b].append(self.hs[rank].read(rec.hs, take))
                    left -= take
            document += len(per_layer[self.blocks[0]])
        rows = ProbeRows(experts={b: np.concatenate(experts[b]) for b in self.blocks},
                         domains=np.concatenate(domains), documents=np.concatenate(documents))
        n = rows.count
        for table, out in ((logits, rows.logits), (hidden, rows.hidden)):
            for b, parts in table.items():
                if parts and sum(len(p) for p in parts) == n:
                    out[b] = np.concatenate(parts)
        return rows

    def summary_notes(self) -> List[str]:
        notes = list(self.notes)
        mtp = sum(r.skipped_mtp for r in self.ranks)
        if mtp:
            notes.append(f"{mtp} multi-token-prediction (mtp) records left out")
        stages: Dict[str, int] = {}
        for r in self.ranks:
            for s, c in r.other_stages.items():
                stages[s] = stages.get(s, 0) + c
        for s, c in sorted(stages.items()):
            notes.append(f"{c} records of stage {s!r} left out (pre_dispatch read)")
        if self.probe_skipped:
            notes.append(self.probe_skipped)
        if "trace" in self.probe_order:
            notes.append("probe experts in the trace's order, which a training trace takes from the router's routing "
                         "map: by index, not best first (no logits traced to order them)")
        elif self.probe_order:
            notes.append("probe experts ordered best first by the traced logits (a training trace lists them by index)")
        return notes


# ----------------------------------------------------------------------------------------------
# tokens-per-expert logs


class TpeImport:
    """Megatron's tokens-per-expert logs as `StepRecords` (loads only). Each rank logs its local experts;
    with expert parallelism (`ep` > 1) rank r holds experts [p L, (p + 1) L) of E = ep x L, p = (r //
    etp) % ep, Megatron's default rank order (tp-cp-ep-dp-pp)."""

    def __init__(self, directory: str, files: Dict[int, str], *, top_k: Optional[int], ep: int, etp: int,
                 follow: bool) -> None:
        if top_k is None:
            raise ContractError("tokens-per-expert logs do not say top-k: give --top-k K (Megatron's --moe-router-topk)")
        if ep < 1 or etp < 1:
            raise ContractError("--ep and --etp must be at least 1")
        self.directory, self.files, self.follow = directory, files, follow
        self.readers = {r: JsonLines(p) for r, p in files.items()}
        self.top_k, self.ep, self.etp = top_k, ep, etp
        self.experts: Optional[int] = None
        self.local: Optional[int] = None
        self.blocks: List[int] = []
        self.notes: List[str] = []
        self.skipped_mtp = 0
        self.pending: Dict[int, Dict[int, Dict[int, np.ndarray]]] = {}  # iter -> rank -> layer -> counts [L]
        self.seen: Dict[int, int] = {r: -1 for r in files}  # highest iter per rank
        self.last_growth = time.monotonic()
        self._sizes = {r: -1 for r in files}
        self.first_step: Optional[int] = None

    def _poll(self) -> None:
        for r, reader in self.readers.items():
            size = reader.size()
            if size != self._sizes[r]:
                self._sizes[r] = size
                self.last_growth = time.monotonic()
            for line, obj in reader.lines():
                p = reader.path
                block = field(p, line, obj, "block", str)
                if block == "mtp" or obj.get("mtp_idx") is not None:
                    self.skipped_mtp += 1
                    continue
                if block != "decoder":
                    raise ContractError(f"{p}:{line}: block {block!r} is neither decoder nor mtp (another version's log?)")
                it = field(p, line, obj, "iter", int)
                layer = field(p, line, obj, "layer", int)
                tpe = field(p, line, obj, "tpe", list)
                if it < 0 or not 0 <= layer <= 4095:
                    raise ContractError(f"{p}:{line}: iter {it}, layer {layer}: out of range")
                if it < self.seen[r]:
                    raise ContractError(f"{p}:{line}: iter {it} after iter {self.seen[r]}: the lines of a rank must "
                                        "come in iteration order")
                self.seen[r] = it
                try:
                    micro = np.asarray(tpe, dtype=np.int64)
                except (ValueError, TypeError, OverflowError):
                    raise ContractError(f"{p}:{line}: tpe is not a list of equal-length count lists") from None
                if micro.ndim != 2 or micro.shape[1] == 0 or (micro.size and micro.min() < 0):
                    raise ContractError(f"{p}:{line}: tpe of shape {list(micro.shape)} is not [micro-batches][local experts] "
                                        "of counts")
                if self.local is None:
                    self.local = micro.shape[1]
                    self.experts = self.local * self.ep
                    if not 1 <= self.experts <= MAX_EXPERTS:
                        raise ContractError(f"{self.experts} experts ({self.local} per rank x --ep {self.ep}): the contract "
                                            f"allows 1...{MAX_EXPERTS}")
                    if self.top_k > self.experts:
                        raise ContractError(f"--top-k {self.top_k} exceeds the {self.experts} experts")
                elif micro.shape[1] != self.local:
                    raise ContractError(f"{p}:{line}: {micro.shape[1]} local experts, earlier lines {self.local}")
                layers = self.pending.setdefault(it, {}).setdefault(r, {})
                layers[layer] = layers.get(layer, 0) + micro.sum(axis=0)
        if not self.follow:
            for reader in self.readers.values():
                reader.finish()

    def _complete(self, it: int) -> bool:
        if not self.follow:
            return True
        if all(self.seen[r] > it for r in self.readers):
            return True
        return time.monotonic() - self.last_growth >= IDLE_SECONDS and not any(x.torn for x in self.readers.values())

    def prepare(self) -> None:
        while True:
            self._poll()
            if self.pending and self._complete(min(self.pending)):
                break
            if not self.follow:
                raise ContractError(f"{self.directory}: the tokens-per-expert logs hold no decoder line")
            time.sleep(0.2)
        first = min(self.pending)
        self.blocks = sorted({l for rank in self.pending[first].values() for l in rank})
        if self.ep == 1 and len(self.readers) > 1:
            self.notes.append(f"every rank logs all {self.local} experts (no --ep given): ranks summed as data-parallel replicas")
        elif self.ep > 1:
            self.notes.append(f"expert parallel: --ep {self.ep} --etp {self.etp}, rank r holds experts of EP rank (r // etp) % ep "
                              "(Megatron's default order tp-cp-ep-dp-pp)")

    def records(self) -> Iterator[StepRecords]:
        while True:
            self._poll()
            emitted = False
            while self.pending and self._complete(min(self.pending)):
                it = min(self.pending)
                yield self._step(it, self.pending.pop(it))
                emitted = True
            if not self.follow:
                return
            if not emitted:
                time.sleep(0.25)

    def _step(self, it: int, ranks: Dict[int, Dict[int, np.ndarray]]) -> StepRecords:
        assert self.experts is not None and self.local is not None
        counts: Dict[int, np.ndarray] = {}
        r_count = len(self.readers)
        for r, layers in ranks.items():
            start = ((r // self.etp) % self.ep) * self.local
            for layer, c in layers.items():
                table = counts.setdefault(layer, np.zeros((r_count, self.experts), dtype=np.int64))
                table[r, start:start + self.local] += c
        assignments = max(int(t.sum()) for t in counts.values()) if counts else 0
        # Every rank of an expert-parallel group counts the tokens sent to its experts: the layer's total
        # over ranks is the assignments of the data-parallel replicas together.
        return StepRecords(step=it, counts=counts, tokens=assignments // self.top_k)

    def summary_notes(self) -> List[str]:
        notes = list(self.notes)
        if self.skipped_mtp:
            notes.append(f"{self.skipped_mtp} multi-token-prediction (mtp) lines left out")
        return notes
