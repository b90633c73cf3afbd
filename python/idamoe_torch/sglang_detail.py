"""SGLang's per_pass and per_token dumps of R ranks as step events (docs/importing.md, "SGLang"): each
physical expert slot mapped back to the logical expert it replicates (EPLB places popular experts
several times); step S holds forward passes S ... S + group - 1; the i-th file of each rank is one dump.
One rank's file is held at a time, its passes folded into per-step counts as they are read, and only the
probe tokens of steps to snapshot kept."""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from .import_vllm import _ranges, token_ids
from .layers import ContractError
from .recorded import ProbeRows, StepRecords
from .sglang_dumps import DEFAULT_PASSES, FORWARD_MODES, DetailDump, DumpFiles, count_field, int_tensor, required


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
                ids = int_tensor(first.path, where, required(first.path, where, rec, "topk_ids_of_layer"), "topk_ids_of_layer", 3)
                if ids.shape[0] != self.layers:
                    raise ContractError(f"{first.path}: {where}topk_ids_of_layer has {ids.shape[0]} layers, the map {self.layers}")
                valid = ids >= 0
                routed |= valid.any(axis=(1, 2))
                if valid.size:
                    widest = max(widest, int(valid.sum(axis=2).max()))
            else:
                count = int_tensor(first.path, where, required(first.path, where, rec, "global_physical_count"), "global_physical_count", 2)
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
        fid = count_field(path, where, rec, "forward_pass_id")
        got = count_field(path, where, rec, "rank")
        if not self.files.single and got != rank:
            raise ContractError(f"{path}: {where}rank {got} in the file of rank {rank}")
        count = int_tensor(path, where, required(path, where, rec, "global_physical_count"), "global_physical_count", 2)
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
        input_ids = token_ids(f"{path}: {where.rstrip(': ')}", required(path, where, rec, "input_ids"), "input_ids")
        assert input_ids is not None
        n = len(input_ids)
        required(path, where, rec, "positions")
        ids = int_tensor(path, where, required(path, where, rec, "topk_ids_of_layer"), "topk_ids_of_layer", 3)
        if ids.shape[:2] != (self.layers, n) or ids.shape[2] < self.top_k:
            raise ContractError(f"{path}: {where}topk_ids_of_layer of shape {list(ids.shape)}, expected [{self.layers}, {n} "
                                f"(input_ids), at least {self.top_k}]")
        if ids.size and (ids.min() < -1 or ids.max() >= self.physical):
            raise ContractError(f"{path}: {where}topk_ids_of_layer holds slot {int(ids.min() if ids.min() < -1 else ids.max())}, "
                                f"outside -1 (padding) ... {self.physical - 1}")
        # Each layer's count per physical slot, padding (-1) in a column of its own that is dropped.
        shifted = np.arange(self.layers)[:, None, None] * (self.physical + 1) + (ids + 1)
        physical = np.bincount(shifted.reshape(-1), minlength=self.layers * (self.physical + 1))
        physical = physical.reshape(self.layers, self.physical + 1)[:, 1:]
        if not np.array_equal(physical, count):
            raise ContractError(f"{path}: {where}global_physical_count disagrees with topk_ids_of_layer")
        self._dense_check(path, where, physical.sum(axis=1))
        # Slot counts folded onto the logical experts the map says each slot holds.
        flat = (np.arange(self.layers)[:, None] * self.experts + d.p2l).reshape(-1)
        logical = np.bincount(flat, weights=physical.reshape(-1).astype(np.float64), minlength=self.layers * self.experts)
        logical = logical.round().astype(np.int64).reshape(self.layers, self.experts)
        for b in self.blocks:
            bucket.counts[b][index] += logical[b]
        slots = ids[self.blocks][:, :, : self.top_k]  # [B, n, k] physical
        complete = (slots >= 0).all(axis=(0, 2))
        hashed = hashlib.blake2b(digest_size=16)
        hashed.update(input_ids)
        hashed.update(np.ascontiguousarray(ids))
        digest = hashed.digest()
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
        chosen = d.p2l[np.asarray(self.blocks)[:, None, None], slots[:, keep]]  # [B, kept, k] logical
        bucket.parts.append((index, fid, {b: chosen[j] for j, b in enumerate(self.blocks)}, input_ids[keep],
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

