"""SGLang's expert distribution recorder dumps as read (sglang 0.5.23,
python/sglang/srt/eplb/expert_distribution.py): which files of a directory are dumps and when each is
whole, and each dump's contents checked against the schema, nothing more. Turning them into steps is
sglang_detail.py's (per_pass, per_token) and sglang_stat.py's (stat).

- `per_token` and `per_pass`: one file per rank and dump, `expert_distribution_recorder_{time}_{rank}.pt`,
  a dict of `records` (one per forward pass: `forward_pass_id`, `rank`, `gatherer_key`,
  `global_physical_count` [layers, physical experts]; per_token adds `input_ids`, `positions`,
  `extend_seq_lens` (None when decoding), `forward_mode` (ForwardMode's value), `topk_ids_of_layer`
  [layers, tokens, 8] of physical expert slots padded with -1, `misc_objects`) and
  `last_physical_to_logical_map` [layers, physical experts].
- `stat`: one file per dump from rank 0, `expert_distribution_recorder_{time}.pt`, a dict of `rank`,
  `logical_count` [buffered passes, layers, logical experts] summed over every rank, and
  `average_utilization_rate_over_window`.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from .import_vllm import IDLE_SECONDS, load_pt
from .layers import ContractError
from .recorded import MAX_BLOCK, MAX_EXPERTS

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


# ----------------------------------------------------------------------------------------------
# a dump's contents


def int_tensor(path: str, where: str, value: Any, name: str, dims: int) -> np.ndarray:
    """An integer tensor of `dims` dimensions as int64."""
    if not torch.is_tensor(value):
        raise ContractError(f"{path}: {where}{name} is a {type(value).__name__}, expected a tensor (another version's dump?)")
    if value.dim() != dims or value.dtype.is_floating_point or value.dtype.is_complex or value.dtype == torch.bool:
        raise ContractError(f"{path}: {where}{name} of shape {list(value.shape)} ({value.dtype}), expected {dims} integer dimensions")
    return value.to(torch.int64).numpy()


def required(path: str, where: str, obj: Dict[str, Any], key: str) -> Any:
    """`obj[key]`, or one line saying the dump is not of this kind (or version)."""
    if key not in obj:
        raise ContractError(f"{path}: {where}no key {key!r}: not a dump of SGLang's expert distribution recorder of this "
                            "kind (or another version's)")
    return obj[key]


def count_field(path: str, where: str, obj: Dict[str, Any], key: str) -> int:
    """`obj[key]`, a count (a non-negative int)."""
    value = required(path, where, obj, key)
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
        records = required(path, "", data, "records")
        if not isinstance(records, list):
            raise ContractError(f"{path}: records is a {type(records).__name__}, expected a list")
        p2l = int_tensor(path, "", required(path, "", data, "last_physical_to_logical_map"), "last_physical_to_logical_map", 2)
        if not 1 <= p2l.shape[0] <= MAX_BLOCK + 1 or p2l.shape[1] < 1 or p2l.min() < 0 or p2l.max() >= MAX_EXPERTS:
            raise ContractError(f"{path}: last_physical_to_logical_map of shape {list(p2l.shape)} and values "
                                f"{int(p2l.min())}...{int(p2l.max())}: needs 1...{MAX_BLOCK + 1} layers of experts 0...{MAX_EXPERTS - 1}")
        return DetailDump(path, records, p2l)



def read_stat_dump(path: str, data: Any = None) -> Tuple[np.ndarray, Optional[float]]:
    """A stat dump's `logical_count` [passes, L, E] and SGLang's utilization rate (None when it wrote
    none); `data`: the file's contents, already read."""
    if data is None:
        data = load_pt(path)
    if not isinstance(data, dict):
        raise ContractError(f"{path}: holds a {type(data).__name__}, expected the dict SGLang's recorder dumps")
    if "records" in data:
        raise ContractError(f"{path}: a per_pass or per_token dump among stat dumps; import them apart")
    count_field(path, "", data, "rank")
    counts = int_tensor(path, "", required(path, "", data, "logical_count"), "logical_count", 3)
    if counts.size and counts.min() < 0:
        raise ContractError(f"{path}: logical_count holds a negative count")
    if not 1 <= counts.shape[1] <= MAX_BLOCK + 1 or not 1 <= counts.shape[2] <= MAX_EXPERTS:
        raise ContractError(f"{path}: logical_count of shape {list(counts.shape)}: needs 1...{MAX_BLOCK + 1} layers of "
                            f"1...{MAX_EXPERTS} experts")
    rate = data.get("average_utilization_rate_over_window")
    return counts, float(rate) if isinstance(rate, (int, float)) and not isinstance(rate, bool) else None
