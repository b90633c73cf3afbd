"""SGLang's stat dumps (rank 0's, every rank summed by SGLang) as step events (docs/importing.md,
"SGLang"): a step per `group` buffered passes that routed a token, in the buffer's order."""
from __future__ import annotations

import os
import time
from typing import Any, Iterator, List, Optional, Tuple

import numpy as np

from .import_vllm import IDLE_SECONDS, _ranges
from .layers import ContractError
from .recorded import StepRecords
from .sglang_dumps import DEFAULT_PASSES, DumpFiles, read_stat_dump


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
        """A stat dump's logical_count [passes, L, E] and utilization rate, of the first dump's shape."""
        if self._cache is not None and self._cache[0] == path:
            counts, rate, self._cache = self._cache[1], self._cache[2], None
            return counts, rate
        data = None
        if self._data is not None and self.files.single:
            data, self._data = self._data, None
        counts, rate = read_stat_dump(path, data)
        if self.layers and counts.shape[1:] != (self.layers, self.experts):
            raise ContractError(f"{path}: logical_count of shape {list(counts.shape)}, the first dump's [passes, {self.layers}, "
                                f"{self.experts}]")
        return counts, rate

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

