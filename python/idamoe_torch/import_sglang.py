"""`python -m idamoe_torch import sglang SRC --out RUN`: SGLang's records of its MoE routing as a run.

Two kinds of records (as read in sglang 0.5.23):

- Expert-distribution dumps (python/sglang/srt/eplb/expert_distribution.py; the server runs with
  `--expert-distribution-recorder-mode MODE`, and `/start_expert_distribution_record`,
  `/stop_expert_distribution_record`, `/dump_expert_distribution_record` write torch.save files into
  $SGLANG_EXPERT_DISTRIBUTION_RECORDER_DIR, default /tmp). SRC is that directory, or one file.
  - `per_token` and `per_pass`: one file per rank and dump, `expert_distribution_recorder_{time}_{rank}.pt`,
    a dict of `records` (one per forward pass: `forward_pass_id`, `rank`, `gatherer_key`,
    `global_physical_count` [layers, physical experts]; per_token adds `input_ids`, `positions`,
    `extend_seq_lens` (None when decoding), `forward_mode` (ForwardMode's value), `topk_ids_of_layer`
    [layers, tokens, 8] of physical expert slots padded with -1, `misc_objects`) and
    `last_physical_to_logical_map` [layers, physical experts]. Physical slots are mapped back to the
    logical experts they replicate (EPLB places popular experts several times). Step S holds the
    forward passes S ... S + group - 1; the i-th file of each rank is one dump.
  - `stat`: one file per dump from rank 0, `expert_distribution_recorder_{time}.pt`, a dict of `rank`,
    `logical_count` [buffered passes, layers, logical experts] summed over every rank, and
    `average_utilization_rate_over_window`. Step events only, per group of buffered passes.
- Routed experts of responses (`--enable-return-routed-experts`, each request's `return_routed_experts`
  and optional `routed_experts_start_len`): SRC is a JSON-lines file, one response per line as the
  native `/generate` returns it (`meta_info.routed_experts`, base64 of int32 [tokens, layers, top-k]
  little-endian, covering tokens start ... seqlen - 2 of prompt + output; `output_ids`;
  `prompt_token_ids` with `return_prompt_token_ids`, or the request's `input_ids` saved beside) or as
  the OpenAI-compatible server returns it (`sglext.routed_experts` of the first choice, ids in
  `sglext.input_ids` / `sglext.output_ids`). The int32s do not say their shape: give `--top-k`.
  Read by the request machinery of import_vllm.py.

torch.load of a dump reads the whole file (it is a zip of pickled tensors); one rank's file is held at a
time, the passes folded into per-step counts as they are read, and only the probe tokens of steps to
snapshot kept.
"""
from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import math
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch

from .layers import ContractError
from .recorded import MAX_BLOCK, MAX_EXPERTS, ProbeRows, StepRecords
from .import_vllm import (DOMAINS, IDLE_SECONDS, Request, RequestImport, _ranges, aligned, load_pt, token_ids,
                          vocab_and_tokens)

DUMP_FILE = re.compile(r"^expert_distribution_recorder_(\d+(?:\.\d*)?)(?:_(\d+))?\.pt$")
#: Forward passes per step event when --group is not given.
DEFAULT_PASSES = 16
#: ForwardMode's names in SGLang 0.5.23 (an IntEnum from 1); a probe token's domain is its pass's mode.
#: The first five have kept their values across versions; a value past the list is domain -1.
FORWARD_MODES = ["extend", "decode", "mixed", "idle", "target verify", "draft extend", "prebuilt",
                 "split prefill", "dllm extend"]


# ----------------------------------------------------------------------------------------------
# the dump directory


class DumpFiles:
    """The dump files of a directory (or one file), each taken once it is whole: at once when not
    following, else once it ends in a zip's end-of-central-directory record (torch.save writes a zip, in
    place, that record last) or its size and time have not changed for IDLE_SECONDS."""

    def __init__(self, src: str, follow: bool) -> None:
        self.src, self.follow = src, follow
        self.single = not os.path.isdir(src)
        self._seen: Dict[str, Tuple[int, int, float]] = {}
        #: Dump files seen that are not whole yet (following).
        self.unsettled = 0

    def settled(self) -> Tuple[List[str], Dict[int, List[str]]]:
        """(stat files, {rank: detail files}), each in time order; one file given is its own rank's (the
        rank its name says, else 0), whatever its kind (its contents say that)."""
        if self.single:
            m = DUMP_FILE.match(os.path.basename(self.src))
            return [], {int(m.group(2)) if m and m.group(2) else 0: [self.src]}
        try:
            names = os.listdir(self.src)
        except OSError as e:
            raise ContractError(f"{self.src}: cannot be listed ({e.strerror})") from None
        directory = self.src
        stat_files: List[Tuple[float, str]] = []
        detail: Dict[int, List[Tuple[float, str]]] = {}
        now = time.monotonic()
        self.unsettled = 0
        for name in names:
            m = DUMP_FILE.match(name)
            path = os.path.join(directory, name)
            if m is None:
                continue
            if self.follow and not self._whole(path, now):
                self.unsettled += 1
                continue
            t = float(m.group(1))
            if m.group(2) is None:
                stat_files.append((t, path))
            else:
                detail.setdefault(int(m.group(2)), []).append((t, path))
        return [p for _, p in sorted(stat_files)], {r: [p for _, p in sorted(v)] for r, v in sorted(detail.items())}

    def _whole(self, path: str, now: float) -> bool:
        try:
            st = os.stat(path)
            if st.st_size >= 22:
                with open(path, "rb") as f:
                    f.seek(st.st_size - 22)
                    if f.read(4) == b"PK\x05\x06":
                        return True
        except OSError:
            return False
        key = (st.st_size, st.st_mtime_ns)
        seen = self._seen.get(path)
        if seen is None or seen[:2] != key:
            self._seen[path] = (*key, now)
            return False
        return now - seen[2] >= IDLE_SECONDS


def _tensor(path: str, where: str, value: Any, name: str, dims: int) -> np.ndarray:
    """An integer tensor of `dims` dimensions as int64."""
    if not torch.is_tensor(value):
        raise ContractError(f"{path}: {where}{name} is a {type(value).__name__}, expected a tensor (another version's dump?)")
    if value.dim() != dims or value.dtype.is_floating_point or value.dtype.is_complex or value.dtype == torch.bool:
        raise ContractError(f"{path}: {where}{name} of shape {list(value.shape)} ({value.dtype}), expected {dims} integer dimensions")
    return value.to(torch.int64).numpy()


def _key(path: str, where: str, obj: Dict[str, Any], key: str) -> Any:
    if key not in obj:
        raise ContractError(f"{path}: {where}no key {key!r}: not a dump of SGLang's expert distribution recorder of this "
                            "kind (or another version's)")
    return obj[key]


def _int(path: str, where: str, obj: Dict[str, Any], key: str) -> int:
    value = _key(path, where, obj, key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ContractError(f"{path}: {where}{key} is {value!r}, expected a count")
    return value


@dataclass
class DetailDump:
    """One rank's per_pass or per_token dump, its header checked: `records` and the map [L, P]."""
    path: str
    records: List[Any]
    p2l: np.ndarray

    @staticmethod
    def load(path: str, data: Any = None) -> "DetailDump":
        """The dump in `path` (`data`: its contents, already read)."""
        if data is None:
            data = load_pt(path)
        if not isinstance(data, dict):
            raise ContractError(f"{path}: holds a {type(data).__name__}, expected the dict SGLang's recorder dumps")
        if "logical_count" in data and "records" not in data:
            raise ContractError(f"{path}: a stat dump among per_pass or per_token dumps; import them apart")
        records = _key(path, "", data, "records")
        if not isinstance(records, list):
            raise ContractError(f"{path}: records is a {type(records).__name__}, expected a list")
        p2l = _tensor(path, "", _key(path, "", data, "last_physical_to_logical_map"), "last_physical_to_logical_map", 2)
        if not 1 <= p2l.shape[0] <= MAX_BLOCK + 1 or p2l.shape[1] < 1 or p2l.min() < 0 or p2l.max() >= MAX_EXPERTS:
            raise ContractError(f"{path}: last_physical_to_logical_map of shape {list(p2l.shape)} and values "
                                f"{int(p2l.min())}...{int(p2l.max())}: needs 1...{MAX_BLOCK + 1} layers of experts 0...{MAX_EXPERTS - 1}")
        return DetailDump(path, records, p2l)


@dataclass
class _Bucket:
    """The passes of one step being gathered over ranks."""
    counts: Dict[int, np.ndarray]
    tokens: int = 0
    snapshot: bool = False
    probe: bool = False
    #: (rank index, pass id, experts {block: [n, k]}, ids [n], domains [n], request within the pass [n])
    parts: List[Tuple[int, int, Dict[int, np.ndarray], np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    taken: Dict[int, int] = field(default_factory=dict)


class DetailImport:
    """per_pass or per_token dumps of R ranks as `StepRecords`: counts of logical experts per rank and
    layer for each group of forward passes, and (per_token) probes of the tokens' experts, ids, forward
    mode (domain) and request (document)."""

    def __init__(self, files: DumpFiles, *, experts: Optional[int], top_k: Optional[int], group: Optional[int],
                 snapshot_every: int, probe_tokens: int, follow: bool, data: Any = None) -> None:
        self.files, self.follow = files, follow
        self._data = data  # the single file's contents, when make_source read them
        self.group = DEFAULT_PASSES if group is None else group
        if self.group < 1:
            raise ContractError("--group must be at least 1")
        self.experts_arg, self.top_k_arg = experts, top_k
        self.snapshot_every, self.probe_tokens = snapshot_every, probe_tokens
        self.experts: Optional[int] = None
        self.top_k = 0
        self.blocks: List[int] = []
        self.ranks: List[int] = []
        self.per_token = False
        self.layers = 0
        self.physical = 0
        self.notes: List[str] = []
        self._cache: Optional[DetailDump] = None
        self._done = 0  # dumps read
        self._first_bucket = 0
        self._last_emitted: Optional[int] = None
        self._pending: Dict[int, _Bucket] = {}
        self._pending_last: Optional[Tuple[int, ProbeRows]] = None
        self._late = 0
        self._replicated = 0
        self._incomplete = 0

    # -- dumps -----------------------------------------------------------------------------------

    def _ready(self) -> List[Dict[int, str]]:
        """Every dump whose rank files are all whole: [{rank: path}], in order (the i-th file of each rank)."""
        stat_files, detail = self.files.settled()
        if stat_files:
            raise ContractError(f"{stat_files[0]}: a stat dump among per_pass or per_token dumps; import them apart")
        if not detail:
            return []
        ranks = sorted(detail)
        if not self.ranks:
            if self.follow and self.files.unsettled:
                return []  # the ranks are told once every file seen is whole
            missing = sorted(set(range(ranks[-1] + 1)) - set(ranks))
            if missing and not self.files.single:
                raise ContractError(f"{self.files.src}: expert_distribution_recorder_*_{missing[0]}.pt is missing (found the dumps "
                                    f"of ranks {', '.join(map(str, ranks))}); every rank's file is needed")
            if not self.follow and not self.files.single:
                counts = {r: len(v) for r, v in detail.items()}
                if len(set(counts.values())) > 1:
                    few = min(counts, key=lambda r: counts[r])
                    raise ContractError(f"{self.files.src}: rank {few} has {counts[few]} dump files, rank {max(counts, key=lambda r: counts[r])} "
                                        f"{max(counts.values())}: a rank file of a dump is missing")
            self.ranks = ranks
        elif ranks != self.ranks:
            raise ContractError(f"{self.files.src}: dumps of ranks {', '.join(map(str, ranks))} after the first of ranks "
                                f"{', '.join(map(str, self.ranks))}")
        complete = min(len(detail[r]) for r in self.ranks)
        return [{r: detail[r][i] for r in self.ranks} for i in range(self._done, complete)]

    def _load(self, path: str) -> DetailDump:
        if self._cache is not None and self._cache.path == path:
            dump, self._cache = self._cache, None
            return dump
        if self._data is not None and self.files.single:
            data, self._data = self._data, None
            return DetailDump.load(path, data)
        return DetailDump.load(path)

    # -- header ----------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Reads the first rank's file of the first dump with a forward pass (following: waits for one)
        for the layers, the physical slots, E (the map's largest logical expert plus one, or --experts),
        the MoE layers (those a token went to) and k (the most experts a token went to, or --top-k)."""
        first: Optional[DetailDump] = None
        while first is None:
            for dump in self._ready():
                candidate = self._load(dump[self.ranks[0]])
                if candidate.records:
                    first = candidate
                    break
            if first is None:
                if not self.follow:
                    raise ContractError(f"{self.files.src}: holds no forward pass recorded by SGLang's expert distribution "
                                        "recorder (no expert_distribution_recorder_*.pt with records)")
                time.sleep(0.25)
        self._cache = first
        self.layers, self.physical = first.p2l.shape
        logical = int(first.p2l.max()) + 1
        if self.experts_arg is not None and self.experts_arg < logical:
            raise ContractError(f"--experts {self.experts_arg}: {first.path}'s physical-to-logical map names expert {logical - 1}")
        self.experts = self.experts_arg or logical
        rec0 = first.records[0]
        if not isinstance(rec0, dict):
            raise ContractError(f"{first.path}: record 0 is a {type(rec0).__name__}, expected a dict")
        self.per_token = "topk_ids_of_layer" in rec0
        routed = np.zeros(self.layers, dtype=bool)
        widest = 0
        for i, rec in enumerate(first.records):
            where = f"record {i}: "
            if not isinstance(rec, dict):
                raise ContractError(f"{first.path}: {where}a {type(rec).__name__}, expected a dict")
            if self.per_token:
                ids = _tensor(first.path, where, _key(first.path, where, rec, "topk_ids_of_layer"), "topk_ids_of_layer", 3)
                if ids.shape[0] != self.layers:
                    raise ContractError(f"{first.path}: {where}topk_ids_of_layer has {ids.shape[0]} layers, the map {self.layers}")
                valid = ids >= 0
                routed |= valid.any(axis=(1, 2))
                if valid.size:
                    widest = max(widest, int(valid.sum(axis=2).max()))
            else:
                count = _tensor(first.path, where, _key(first.path, where, rec, "global_physical_count"), "global_physical_count", 2)
                if count.shape != (self.layers, self.physical):
                    raise ContractError(f"{first.path}: {where}global_physical_count of shape {list(count.shape)}, the map's "
                                        f"[{self.layers}, {self.physical}]")
                routed |= count.sum(axis=1) > 0
        self.blocks = [int(b) for b in np.flatnonzero(routed)]
        if not self.blocks:
            raise ContractError(f"{first.path}: no layer routed a token in the first dump's records")
        dense = [b for b in range(self.layers) if not routed[b]]
        if dense:
            self.notes.append(f"layers {_ranges(dense)} routed no token in the first dump: dense layers, left out")
        if self.per_token:
            self.top_k = widest
            if self.top_k_arg is not None and self.top_k_arg != widest:
                raise ContractError(f"--top-k {self.top_k_arg}: the per_token records route each token to {widest} experts")
        else:
            if self.top_k_arg is None:
                raise ContractError("per_pass dumps count assignments, not tokens: give --top-k K (the model's num_experts_per_tok)")
            self.top_k = self.top_k_arg
        if not 1 <= self.top_k <= self.experts:
            raise ContractError(f"top-{self.top_k} routing with {self.experts} experts")
        ids0 = [r.get("forward_pass_id") for r in first.records if isinstance(r, dict)]
        ids0 = [i for i in ids0 if isinstance(i, int) and not isinstance(i, bool) and i >= 0]
        self._first_bucket = (min(ids0) if ids0 else 0) // self.group

    # -- steps -----------------------------------------------------------------------------------

    def records(self) -> Iterator[StepRecords]:
        """A step event per group of forward passes, in pass order (following: forever, as dumps appear).
        A dump's last group waits for the next dump, whose first passes may belong to it; following, it
        is written with its dump (a later pass that falls in it is counted in the next step, noted)."""
        while True:
            for dump in self._ready():
                self._read_dump(dump)
                self._done += 1
                keep = max(self._pending) if self._pending and not self.follow else None
                for b in sorted(self._pending):
                    if b != keep:
                        yield self._emit(b)
            if not self.follow:
                break
            time.sleep(0.25)
        for b in sorted(self._pending):
            yield self._emit(b)

    def _bucket_of(self, forward_pass_id: int) -> int:
        b = forward_pass_id // self.group
        if self._last_emitted is not None and b <= self._last_emitted:
            self._late += 1
            b = self._last_emitted + 1
        return b

    def _bucket(self, b: int, last: int) -> _Bucket:
        found = self._pending.get(b)
        if found is None:
            assert self.experts is not None
            snap = b == self._first_bucket or (self.snapshot_every > 0 and (b - self._first_bucket) % self.snapshot_every == 0)
            found = _Bucket({blk: np.zeros((len(self.ranks), self.experts), dtype=np.int64) for blk in self.blocks},
                            snapshot=snap, probe=self.per_token and (snap or b == last))
            self._pending[b] = found
        elif b == last and self.per_token:
            found.probe = True
        return found

    def _read_dump(self, dump: Dict[int, str]) -> None:
        """Folds every rank's records of one dump into the pending steps, one rank's file in memory at a time."""
        first_rank: Dict[int, bytes] = {}
        last = None
        for index, rank in enumerate(self.ranks):
            d = self._load(dump[rank])
            if d.p2l.shape != (self.layers, self.physical):
                raise ContractError(f"{d.path}: last_physical_to_logical_map of shape {list(d.p2l.shape)}, the first "
                                    f"dump's [{self.layers}, {self.physical}]")
            if d.p2l.max() >= (self.experts or 0):
                raise ContractError(f"{d.path}: the physical-to-logical map names expert {int(d.p2l.max())}, not below E = {self.experts}")
            ids = [r.get("forward_pass_id") if isinstance(r, dict) else None for r in d.records]
            valid_ids = [i for i in ids if isinstance(i, int) and not isinstance(i, bool) and i >= 0]
            if last is None:
                last = self._bucket_of_peek(max(valid_ids)) if valid_ids else None
            for i, rec in enumerate(d.records):
                self._record(d, i, rec, index, rank, first_rank, last if last is not None else -1)
            del d

    def _bucket_of_peek(self, forward_pass_id: int) -> int:
        b = forward_pass_id // self.group
        return self._last_emitted + 1 if self._last_emitted is not None and b <= self._last_emitted else b

    def _record(self, d: DetailDump, i: int, rec: Any, index: int, rank: int, first_rank: Dict[int, bytes], last: int) -> None:
        assert self.experts is not None
        path, where = d.path, f"record {i}: "
        if not isinstance(rec, dict):
            raise ContractError(f"{path}: {where}a {type(rec).__name__}, expected a dict")
        fid = _int(path, where, rec, "forward_pass_id")
        got = _int(path, where, rec, "rank")
        if not self.files.single and got != rank:
            raise ContractError(f"{path}: {where}rank {got} in the file of rank {rank}")
        count = _tensor(path, where, _key(path, where, rec, "global_physical_count"), "global_physical_count", 2)
        if count.shape != (self.layers, self.physical) or (count.size and count.min() < 0):
            raise ContractError(f"{path}: {where}global_physical_count of shape {list(count.shape)}, expected "
                                f"[{self.layers}, {self.physical}] counts")
        bucket = self._bucket(self._bucket_of(fid), last)
        if self.per_token:
            self._token_record(d, where, rec, count, bucket, index, fid, first_rank)
            return
        flat = (np.arange(self.layers)[:, None] * self.experts + d.p2l).reshape(-1)
        logical = np.bincount(flat, weights=count.reshape(-1).astype(np.float64),
                              minlength=self.layers * self.experts).round().astype(np.int64).reshape(self.layers, self.experts)
        self._dense_check(path, where, logical.sum(axis=1))
        for b in self.blocks:
            bucket.counts[b][index] += logical[b]
        digest = hashlib.blake2b(count.tobytes(), digest_size=16).digest()
        if index == 0:
            first_rank[fid] = digest
        elif first_rank.get(fid) == digest and count.any():
            self._replicated += 1
            return
        bucket.tokens += max(int(logical[b].sum()) for b in self.blocks) // self.top_k

    def _dense_check(self, path: str, where: str, per_layer: np.ndarray) -> None:
        outside = [layer for layer in np.flatnonzero(per_layer) if int(layer) not in self.blocks]
        if outside:
            raise ContractError(f"{path}: {where}layer {int(outside[0])} routes tokens, but routed none in the first dump "
                                "(read as a dense layer)")

    def _token_record(self, d: DetailDump, where: str, rec: Dict[str, Any], count: np.ndarray, bucket: _Bucket,
                      index: int, fid: int, first_rank: Dict[int, bytes]) -> None:
        assert self.experts is not None
        path = d.path
        input_ids = token_ids(f"{path}: {where.rstrip(': ')}", _key(path, where, rec, "input_ids"), "input_ids")
        assert input_ids is not None
        n = len(input_ids)
        _key(path, where, rec, "positions")
        ids = _tensor(path, where, _key(path, where, rec, "topk_ids_of_layer"), "topk_ids_of_layer", 3)
        if ids.shape[:2] != (self.layers, n) or ids.shape[2] < self.top_k:
            raise ContractError(f"{path}: {where}topk_ids_of_layer of shape {list(ids.shape)}, expected [{self.layers}, {n} "
                                f"(input_ids), at least {self.top_k}]")
        if ids.size and (ids.min() < -1 or ids.max() >= self.physical):
            raise ContractError(f"{path}: {where}topk_ids_of_layer holds slot {int(ids.min() if ids.min() < -1 else ids.max())}, "
                                f"outside -1 (padding) ... {self.physical - 1}")
        valid = ids >= 0
        slots = (np.arange(self.layers)[:, None, None] * self.physical + ids)[valid]
        physical = np.bincount(slots, minlength=self.layers * self.physical).reshape(self.layers, self.physical)
        if not np.array_equal(physical, count):
            raise ContractError(f"{path}: {where}global_physical_count disagrees with topk_ids_of_layer")
        self._dense_check(path, where, valid.sum(axis=(1, 2)))
        logical = np.where(valid, d.p2l[np.arange(self.layers)[:, None, None], np.maximum(ids, 0)], -1)
        for b in self.blocks:
            chosen = logical[b][valid[b]]
            bucket.counts[b][index] += np.bincount(chosen, minlength=self.experts)[: self.experts]
        columns = logical[self.blocks][:, :, : self.top_k]  # [B, n, k]
        complete = (columns >= 0).all(axis=(0, 2))
        digest = hashlib.blake2b(input_ids.tobytes() + ids.tobytes(), digest_size=16).digest()
        if index == 0:
            first_rank[fid] = digest
        elif first_rank.get(fid) == digest and n:
            self._replicated += 1
            return
        bucket.tokens += n
        self._incomplete += int((~complete).sum())
        if not bucket.probe:
            return
        share = max(1, math.ceil(self.probe_tokens / len(self.ranks)))
        room = share - bucket.taken.get(index, 0)
        lens = rec.get("extend_seq_lens")
        if lens is None:
            documents = np.arange(n)  # decoding: one token of each request
        else:
            if not isinstance(lens, (list, tuple)) or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in lens) \
                    or sum(lens) != n:
                raise ContractError(f"{path}: {where}extend_seq_lens {str(lens)[:60]} do not add up to the {n} input_ids")
            documents = np.repeat(np.arange(len(lens)), lens)
        if room <= 0 or n == 0:
            return
        keep = np.flatnonzero(complete)[:room]
        if keep.size == 0:
            return
        bucket.taken[index] = bucket.taken.get(index, 0) + keep.size
        mode = rec.get("forward_mode")
        domain = mode - 1 if isinstance(mode, int) and 1 <= mode <= len(FORWARD_MODES) else -1
        bucket.parts.append((index, fid, {b: columns[j][keep] for j, b in enumerate(self.blocks)}, input_ids[keep],
                             np.full(keep.size, domain, dtype=np.int32), documents[keep]))

    def _emit(self, b: int) -> StepRecords:
        bucket = self._pending.pop(b)
        self._last_emitted = b
        step = b * self.group
        rows = None
        if bucket.parts:
            # Rank by rank, each rank's passes in order; a document per request, numbered as they come.
            parts = sorted(bucket.parts, key=lambda p: (p[0], p[1]))
            request = np.concatenate([np.stack([np.full(len(p[5]), i), p[5]], axis=1) for i, p in enumerate(parts)])
            documents = np.cumsum(np.r_[True, (request[1:] != request[:-1]).any(axis=1)]) - 1
            rows = ProbeRows(experts={blk: np.concatenate([p[2][blk] for p in parts]) for blk in self.blocks},
                             tokens=np.concatenate([p[3] for p in parts]), domains=np.concatenate([p[4] for p in parts]),
                             documents=documents.astype(np.int32))
        snap = rows is not None and bucket.snapshot
        self._pending_last = None if snap or rows is None else (step, rows)
        return StepRecords(step=step, counts=bucket.counts, tokens=bucket.tokens, probe=rows if snap else None)

    def final_snapshot(self) -> Optional[Tuple[int, ProbeRows]]:
        last, self._pending_last = self._pending_last, None
        return last

    def summary_notes(self) -> List[str]:
        notes = list(self.notes)
        notes.append("physical expert slots mapped to logical experts by each dump's last_physical_to_logical_map "
                     "(the map in force when it was dumped)")
        if self.per_token:
            notes.append("a token's experts in SGLang's top-k order (the probe's first choice is its first column)")
        if self._replicated:
            notes.append(f"{self._replicated} rank records repeat the first rank's forward pass exactly (tensor parallelism: "
                         "every rank routes the same tokens): their tokens are counted and probed once, their loads kept per rank")
        elif not self.per_token and len(self.ranks) > 1:
            notes.append("per_pass counts of several ranks are summed; under plain tensor parallelism each rank counts "
                         "the same tokens")
        if self._incomplete:
            notes.append(f"{self._incomplete} tokens with a padding slot (-1) in a MoE layer: counted where routed, left out of probes")
        if self._late:
            notes.append(f"{self._late} forward passes of a later dump fell in a step already written: counted in the next step")
        return notes


# ----------------------------------------------------------------------------------------------
# stat dumps


class StatImport:
    """stat dumps (rank 0's, every rank summed by SGLang) as step events, one per `group` buffered passes.
    Step S holds the S-th ... (S + group - 1)-th non-empty buffered pass of the import."""

    def __init__(self, files: DumpFiles, *, experts: Optional[int], top_k: Optional[int], group: Optional[int],
                 follow: bool, data: Any = None) -> None:
        if top_k is None:
            raise ContractError("stat dumps count assignments, not tokens: give --top-k K (the model's num_experts_per_tok)")
        self.files, self.follow = files, follow
        self.group = DEFAULT_PASSES if group is None else group
        if self.group < 1:
            raise ContractError("--group must be at least 1")
        self.experts_arg, self.top_k = experts, top_k
        self.experts: Optional[int] = None
        self.blocks: List[int] = []
        self.layers = 0
        self.notes: List[str] = []
        self._done = 0
        self._zero = 0
        self._rates: List[str] = []
        self._ordinal = 0
        self._cache: Optional[Tuple[str, np.ndarray, Optional[float]]] = None
        self._data = data  # the single file's contents, when make_source read them
        self._last_growth = time.monotonic()

    def _files(self) -> List[str]:
        if self.files.single:
            return [self.files.src][self._done:]
        stat_files, detail = self.files.settled()
        if detail:
            raise ContractError(f"{next(iter(detail.values()))[0]}: a per_pass or per_token dump among stat dumps; import them apart")
        return stat_files[self._done:]

    def _load(self, path: str) -> Tuple[np.ndarray, Optional[float]]:
        """A stat dump's logical_count [passes, L, E] and utilization rate."""
        if self._cache is not None and self._cache[0] == path:
            counts, rate, self._cache = self._cache[1], self._cache[2], None
            return counts, rate
        if self._data is not None and self.files.single:
            data, self._data = self._data, None
        else:
            data = load_pt(path)
        if not isinstance(data, dict):
            raise ContractError(f"{path}: holds a {type(data).__name__}, expected the dict SGLang's recorder dumps")
        if "records" in data:
            raise ContractError(f"{path}: a per_pass or per_token dump among stat dumps; import them apart")
        _int(path, "", data, "rank")
        counts = _tensor(path, "", _key(path, "", data, "logical_count"), "logical_count", 3)
        if counts.size and counts.min() < 0:
            raise ContractError(f"{path}: logical_count holds a negative count")
        if not 1 <= counts.shape[1] <= MAX_BLOCK + 1 or not 1 <= counts.shape[2] <= MAX_EXPERTS:
            raise ContractError(f"{path}: logical_count of shape {list(counts.shape)}: needs 1...{MAX_BLOCK + 1} layers of "
                                f"1...{MAX_EXPERTS} experts")
        if self.layers and counts.shape[1:] != (self.layers, self.experts):
            raise ContractError(f"{path}: logical_count of shape {list(counts.shape)}, the first dump's [passes, {self.layers}, "
                                f"{self.experts}]")
        rate = data.get("average_utilization_rate_over_window")
        return counts, float(rate) if isinstance(rate, (int, float)) and not isinstance(rate, bool) else None

    def prepare(self) -> None:
        """Reads the first dump with a routed token (following: waits for one) for E, the layers and the
        MoE layers (those with any count)."""
        while True:
            for path in self._files():
                counts, rate = self._load(path)
                routed = counts.sum(axis=(0, 2)) > 0
                if routed.any():
                    self._cache = (path, counts, rate)
                    self.layers, experts = counts.shape[1:]
                    if self.experts_arg is not None and self.experts_arg != experts:
                        raise ContractError(f"--experts {self.experts_arg}: {path} counts {experts} logical experts")
                    self.experts = experts
                    self.blocks = [int(b) for b in np.flatnonzero(routed)]
                    dense = [b for b in range(self.layers) if not routed[b]]
                    if dense:
                        self.notes.append(f"layers {_ranges(dense)} routed no token in the first dump: dense layers, left out")
                    if self.top_k > experts:
                        raise ContractError(f"--top-k {self.top_k} exceeds the {experts} experts")
                    return
            if not self.follow:
                raise ContractError(f"{self.files.src}: holds no stat dump with a routed token (expert_distribution_recorder_*.pt)")
            time.sleep(0.25)

    def records(self) -> Iterator[StepRecords]:
        assert self.experts is not None
        counts = {b: np.zeros((1, self.experts), dtype=np.int64) for b in self.blocks}
        passes, first, tokens = 0, self._ordinal, 0
        while True:
            paths = self._files()
            for path in paths:
                table, rate = self._load(path)
                if rate is not None:
                    self._rates.append(f"{os.path.basename(path)}: {rate:.3f}")
                self._done += 1
                self._last_growth = time.monotonic()
                outside = [l for l in np.flatnonzero(table.sum(axis=(0, 2))) if int(l) not in self.blocks]
                if outside:
                    raise ContractError(f"{path}: layer {int(outside[0])} routes tokens, but routed none in the first dump "
                                        "(read as a dense layer)")
                for row in table:
                    if not row.any():
                        self._zero += 1
                        continue
                    for b in self.blocks:
                        counts[b][0] += row[b]
                    tokens += max(int(row[b].sum()) for b in self.blocks) // self.top_k
                    passes += 1
                    self._ordinal += 1
                    if passes == self.group:
                        yield StepRecords(step=first, counts=counts, tokens=tokens)
                        counts = {b: np.zeros((1, self.experts), dtype=np.int64) for b in self.blocks}
                        passes, first, tokens = 0, self._ordinal, 0
            if not self.follow:
                break
            if passes and not paths and time.monotonic() - self._last_growth >= IDLE_SECONDS:
                yield StepRecords(step=first, counts=counts, tokens=tokens)
                counts = {b: np.zeros((1, self.experts), dtype=np.int64) for b in self.blocks}
                passes, first, tokens = 0, self._ordinal, 0
            time.sleep(0.25)
        if passes:
            yield StepRecords(step=first, counts=counts, tokens=tokens)

    def summary_notes(self) -> List[str]:
        notes = list(self.notes)
        notes.append("stat dumps: each layer's count per logical expert summed over every rank by SGLang, per buffered "
                     "forward pass in its buffer's order (a ring buffer's order is the passes' only until it wraps)")
        if self._zero:
            notes.append(f"{self._zero} buffered passes with no routed token (slots never filled, or idle passes) left out")
        if self._rates:
            notes.append("SGLang's average utilization rate over its window: " + "; ".join(self._rates))
        return notes


# ----------------------------------------------------------------------------------------------
# routed experts of responses


def response_parser(top_k: Optional[int]):
    """A parser of SGLang responses (one per line) for RequestImport; the int32s are split by `top_k`."""
    layers: List[int] = []

    def parse(where: str, obj: Dict[str, Any]) -> Tuple[List[Request], int]:
        meta = obj.get("meta_info")
        prompt_value, output_value, counts = None, None, (None, None)
        encoded: Any = None
        if isinstance(meta, dict) and "routed_experts" in meta:
            encoded = meta["routed_experts"]
            prompt_value = obj.get("prompt_token_ids", obj.get("input_ids"))
            output_value = obj.get("output_ids")
            counts = (meta.get("prompt_tokens"), meta.get("completion_tokens"))
        elif isinstance(obj.get("sglext"), dict) or isinstance(obj.get("choices"), list):
            ext = obj.get("sglext") if isinstance(obj.get("sglext"), dict) else {}
            choices = obj.get("choices") if isinstance(obj.get("choices"), list) else []
            choice = choices[0] if choices and isinstance(choices[0], dict) else {}
            cmeta = choice.get("meta_info") if isinstance(choice.get("meta_info"), dict) else {}
            encoded = ext.get("routed_experts", cmeta.get("routed_experts"))
            prompt_value = ext.get("input_ids", choice.get("prompt_token_ids"))
            outs = ext.get("output_ids")
            output_value = outs[0] if isinstance(outs, list) and outs and isinstance(outs[0], list) else \
                choice.get("token_ids", choice.get("response_token_ids"))
            usage = obj.get("usage") if isinstance(obj.get("usage"), dict) else {}
            if len(choices) == 1:
                counts = (usage.get("prompt_tokens"), usage.get("completion_tokens"))
        elif isinstance(meta, dict):
            return [], 1  # a response without routing (aborted, or not asked for)
        else:
            raise ContractError(f"{where}: no meta_info.routed_experts and no sglext.routed_experts: not an SGLang response "
                                "(of a server with --enable-return-routed-experts)")
        if encoded is None:
            return [], 1
        if top_k is None:
            raise ContractError("SGLang's routed_experts are flat int32s: give --top-k K (the model's num_experts_per_tok) "
                                "to split them into layers")
        if not isinstance(encoded, str):
            raise ContractError(f"{where}: routed_experts is a {type(encoded).__name__}, expected base64 of int32s")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ContractError(f"{where}: routed_experts is not base64") from None
        if len(raw) % 4:
            raise ContractError(f"{where}: routed_experts holds {len(raw)} bytes, not whole int32s")
        flat = np.frombuffer(raw, dtype="<i4").astype(np.int64)
        start = obj.get("routed_experts_start_len", meta.get("routed_experts_start_len", 0) if isinstance(meta, dict) else 0)
        if not isinstance(start, int) or isinstance(start, bool) or start < 0:
            raise ContractError(f"{where}: routed_experts_start_len {start!r} is not a count of tokens")
        prompt = token_ids(where, prompt_value, "prompt_token_ids")
        output = token_ids(where, output_value, "output_ids")
        if prompt is not None and output is not None:
            total = len(prompt) + len(output)
        elif all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
            total = counts[0] + counts[1]
        else:
            total = None
        if layers:
            rows_n = flat.size // (layers[0] * top_k)
            if rows_n * layers[0] * top_k != flat.size:
                raise ContractError(f"{where}: routed_experts holds {flat.size} int32s, not rows of {layers[0]} layers x top-{top_k}")
        else:
            if total is None:
                raise ContractError(f"{where}: the response says neither its token ids nor its token counts; the rows of "
                                    "routed_experts cannot be told")
            rows_n = max(total - 1 - start, 0)
            if rows_n == 0:
                return [Request(where=where, rows=np.zeros((0, 1, top_k), dtype=np.int64), start=start)], 0
            if flat.size % (rows_n * top_k):
                raise ContractError(f"{where}: routed_experts holds {flat.size} int32s, not {rows_n} tokens x layers x top-{top_k}")
            layers.append(flat.size // (rows_n * top_k))
            if not 1 <= layers[0] <= MAX_BLOCK + 1:
                raise ContractError(f"{where}: routed_experts of {layers[0]} layers: the contract allows 1...{MAX_BLOCK + 1}")
        rows = flat.reshape(rows_n, layers[0], top_k)
        if rows.size and rows.min() < 0:
            raise ContractError(f"{where}: routed_experts holds a negative expert index {int(rows.min())}")
        plen = counts[0] if isinstance(counts[0], int) and not isinstance(counts[0], bool) else None
        if total is not None and prompt is None and rows_n not in (total - 1 - start, total - start):
            raise ContractError(f"{where}: {rows_n} rows of routed experts; the {total} tokens from token {start} route {total - 1 - start}")
        tokens, plen = aligned(where, rows, start, prompt, output, plen)
        return [Request(where=where, rows=rows, start=start, tokens=tokens, prompt_len=plen)], 0

    return parse


# ----------------------------------------------------------------------------------------------


def make_source(src: str, args: argparse.Namespace) -> Tuple[Any, Dict[str, Any], List[str], Any, int]:
    """The `import sglang` source, prepared, with run.json's `imported`, the domains, vocabulary and k."""
    if not os.path.exists(src):
        raise ContractError(f"{src}: no such file or directory")
    if os.path.isdir(src) or src.endswith(".pt"):
        files = DumpFiles(src, args.follow)
        if files.single and args.follow:
            raise ContractError(f"{src}: --follow watches a dump directory ($SGLANG_EXPERT_DISTRIBUTION_RECORDER_DIR) or a "
                                "JSON-lines file of responses; a .pt file is written whole")
        kind, data = _dump_kind(files, args.follow)
        if kind == "stat":
            source: Any = StatImport(files, experts=args.experts, top_k=args.top_k, group=args.group, follow=args.follow,
                                     data=data)
            source.prepare()
            vocab, tokens = vocab_and_tokens(False, args.tokenizer)
            imported = {"producer": "SGLang", "records": "expert distribution (stat)", "source": src, "tokens": tokens}
            return source, imported, [], vocab, source.top_k
        source = DetailImport(files, experts=args.experts, top_k=args.top_k, group=args.group,
                              snapshot_every=args.snapshot_every, probe_tokens=args.probe_tokens, follow=args.follow,
                              data=data)
        source.prepare()
        mode = "per_token" if source.per_token else "per_pass"
        vocab, tokens = vocab_and_tokens(source.per_token, args.tokenizer)
        imported = {"producer": "SGLang", "records": f"expert distribution ({mode})", "source": src,
                    "ranks": len(source.ranks), "tokens": tokens}
        return source, imported, (list(FORWARD_MODES) if source.per_token else []), vocab, source.top_k
    requests = RequestImport(src, response_parser(args.top_k), what="routed experts", experts=args.experts,
                             top_k=args.top_k, group=args.group, snapshot_every=args.snapshot_every,
                             probe_tokens=args.probe_tokens, follow=args.follow)
    requests.prepare()
    vocab, tokens = vocab_and_tokens(requests.ids_known, args.tokenizer)
    imported = {"producer": "SGLang", "records": "routed experts", "source": src, "tokens": tokens}
    return requests, imported, list(DOMAINS), vocab, requests.top_k


def _dump_kind(files: DumpFiles, follow: bool) -> Tuple[str, Any]:
    """stat or detail: from the file names (a directory), or the contents (one file, returned too)."""
    while True:
        if files.single:
            data = load_pt(files.src)
            if isinstance(data, dict) and "logical_count" in data and "records" not in data:
                return "stat", data
            return "detail", data
        stat_files, detail = files.settled()
        if stat_files and detail:
            raise ContractError(f"{files.src}: holds stat dumps ({os.path.basename(stat_files[0])}) and per_pass or per_token "
                                f"dumps ({os.path.basename(next(iter(detail.values()))[0])}); import them apart")
        if stat_files:
            return "stat", None
        if detail:
            return "detail", None
        if not follow:
            raise ContractError(f"{files.src}: holds no expert_distribution_recorder_*.pt (SGLang's "
                                "$SGLANG_EXPERT_DISTRIBUTION_RECORDER_DIR after /dump_expert_distribution_record)")
        time.sleep(0.25)
