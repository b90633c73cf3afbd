"""`python -m idamoe_torch import vllm SRC --out RUN`: the experts vLLM routed each token of each request
to (`--enable-return-routed-experts`) as a run, one step event per `--group` requests.

vLLM 0.33.0 (vllm/outputs.py, `CompletionOutput.routed_experts`, an array [tokens, layers, top-k] of
uint8, or uint16 above 256 experts) records, for each completion, the experts of every token of its
sequence that went through the model: the prompt (from `SamplingParams.routed_experts_prompt_start`)
and the generated tokens but the last, which was sampled and never fed back. Its OpenAI server returns
the same array per choice as `routed_experts`, base64 of its `.npy` bytes, with `token_ids` and
`prompt_token_ids` when the request sets `return_token_ids`. Some versions returned the prompt's rows
apart, as the request's `prompt_routed_experts`; both shapes are read.

SRC is a JSON-lines file, one request per line, with vLLM's own field names:

    {"prompt_token_ids": [...], "routed_experts_prompt_start": 0,      (both optional)
     "outputs": [{"token_ids": [...], "routed_experts": [[[e, ...], ...], ...]}]}

(`LLM.generate`'s RequestOutput; `routed_experts` a nested list or the server's base64 `.npy`), or an
OpenAI server response (`choices` instead of `outputs`); or a `.pt` file holding a list of such dicts
with tensors for the arrays, read with torch.load(weights_only=True), which holds the whole file in
memory (the JSON-lines file is streamed). Every completion is one document of the probe; its tokens are
the prompt's and the output's ids when the line has them, and each token's domain says whether it was
in the prompt or generated.

E is not recorded: `--experts`, or (one-shot, noted in run.json) the largest expert index plus one.
Layers whose every row is 0 in the first request are dense layers (vLLM's capture buffer starts at zero
and only MoE layers write it) and are left out, with a note.

The request machinery (`Request`, `RequestImport`) is shared with SGLang's routed experts
(import_sglang.py), whose responses carry the same decisions in another wire format.
"""
from __future__ import annotations

import argparse
import base64
import binascii
import io
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch

from .jsonlines import JsonLines, open_regular
from .layers import ContractError
from .recorded import MAX_BLOCK, MAX_EXPERTS, ProbeRows, StepRecords

#: Requests per step event when --group is not given.
DEFAULT_GROUP = 16
#: A followed file is taken as finished with its last group once it has not grown for this long.
IDLE_SECONDS = 2.0
#: Probe domains of a request's tokens, by where they were in its sequence.
DOMAINS = ["prompt", "output"]
#: The largest token id kept (probe tokens are int32).
MAX_TOKEN_ID = (1 << 31) - 1


# ----------------------------------------------------------------------------------------------
# inputs shared by the serving importers


def load_pt(path: str) -> Any:
    """A .pt file read with torch.load(weights_only=True) from a regular file: tensors, numbers,
    strings and containers only; anything else is one line naming the file."""
    fd = open_regular(path)
    try:
        with os.fdopen(fd, "rb", closefd=False) as f:
            return torch.load(f, map_location="cpu", weights_only=True)
    except ContractError:
        raise
    except Exception as e:  # an unpickler refusal names the forbidden global
        if _cut_off_zip(fd):
            raise ContractError(f"{path}: cut off: a torch.save zip without its end record (still being written, or "
                                "copied in part?)") from None
        raise ContractError(f"{path}: not a file of plain tensors ({str(e).splitlines()[0][:120] if str(e) else type(e).__name__}); "
                            "nothing else is unpickled") from None
    finally:
        os.close(fd)


def _cut_off_zip(fd: int) -> bool:
    """Whether the file is the start of a zip (torch.save's format) without the end-of-central-directory
    record torch.save writes last (22 bytes, no comment)."""
    try:
        size = os.fstat(fd).st_size
        return os.pread(fd, 4, 0) == b"PK\x03\x04" and (size < 22 or os.pread(fd, 4, size - 22) != b"PK\x05\x06")
    except OSError:
        return False


def tokenizer_vocab(directory: str) -> List[str]:
    """Every token of the tokenizer in `directory` as text (local files only, never a download)."""
    if not os.path.isdir(directory):
        raise ContractError(f"--tokenizer {directory}: not a directory")
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise ContractError("--tokenizer needs the transformers package") from None
    try:
        tok = AutoTokenizer.from_pretrained(directory, local_files_only=True)
        size = len(tok)
        return [str(s) for s in tok.batch_decode([[i] for i in range(size)])]
    except Exception as e:
        raise ContractError(f"--tokenizer {directory}: cannot be loaded ({str(e).splitlines()[0][:120] if str(e) else type(e).__name__})") from None


def vocab_and_tokens(ids_known: bool, tokenizer: Optional[str]) -> Tuple[Any, str]:
    """The run's vocabulary and run.json's `imported.tokens`. Ids without --tokenizer get an empty
    vocabulary, which the inspector shows as `<id>`: a list of the decimal strings up to the largest id
    would say the same at the cost of about 1.5 MB of metadata in every probe of a 150k-token
    vocabulary, and the largest id is not known before the records are read when following."""
    if not ids_known:
        if tokenizer:
            raise ContractError(f"--tokenizer {tokenizer}: the records hold no token ids to decode")
        return None, "not recorded"
    if tokenizer:
        return tokenizer_vocab(tokenizer), f"decoded with {os.path.abspath(tokenizer)}"
    return [], "token ids"


def token_ids(where: str, value: Any, name: str) -> Optional[np.ndarray]:
    """A list (or 1-D integer tensor) of token ids, or None when absent."""
    if value is None:
        return None
    if torch.is_tensor(value):
        if value.dim() != 1 or value.dtype.is_floating_point or value.dtype == torch.bool:
            raise ContractError(f"{where}: {name} is a tensor of shape {list(value.shape)} ({value.dtype}), expected token ids")
        ids = value.to(torch.int64).numpy()
    else:
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ContractError(f"{where}: {name} is not a list of token ids")
        ids = np.asarray(value, dtype=np.int64) if value else np.zeros(0, dtype=np.int64)
    if ids.size and (ids.min() < 0 or ids.max() > MAX_TOKEN_ID):
        raise ContractError(f"{where}: {name} holds a token id outside 0...{MAX_TOKEN_ID}")
    return ids


def routed_rows(where: str, value: Any, name: str) -> np.ndarray:
    """[tokens, layers, k] int64 from a nested list, a tensor, or vLLM's base64 `.npy` string."""
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
            array = np.load(io.BytesIO(raw), allow_pickle=False)
        except (binascii.Error, ValueError, OSError, EOFError) as e:
            raise ContractError(f"{where}: {name} is not base64 of a .npy array ({str(e).splitlines()[0][:80]})") from None
    elif torch.is_tensor(value):
        array = value.numpy()
    elif isinstance(value, list):
        try:
            array = np.asarray(value) if value else np.zeros((0, 0, 0), dtype=np.int64)
        except (ValueError, OverflowError):
            raise ContractError(f"{where}: {name} is not a [tokens][layers][k] list of integers") from None
        if array.size == 0 and value:
            array = array.reshape(len(value), 0, 0)
    else:
        raise ContractError(f"{where}: {name} is a {type(value).__name__}, expected [tokens][layers][k] expert indices")
    if array.ndim != 3 or array.dtype.kind not in "iu":
        raise ContractError(f"{where}: {name} of shape {list(array.shape)} ({array.dtype}) is not [tokens, layers, k] integers")
    if array.shape[0] and (not 1 <= array.shape[1] <= MAX_BLOCK + 1 or not 1 <= array.shape[2] <= MAX_EXPERTS):
        raise ContractError(f"{where}: {name} of shape {list(array.shape)}: layers must be 1...{MAX_BLOCK + 1} and k 1...{MAX_EXPERTS}")
    rows = array.astype(np.int64)
    if rows.size and rows.min() < 0:
        raise ContractError(f"{where}: {name} holds a negative expert index {int(rows.min())}")
    return rows


def aligned(where: str, rows: np.ndarray, start: int, prompt: Optional[np.ndarray], output: Optional[np.ndarray],
            prompt_len: Optional[int]) -> Tuple[Optional[np.ndarray], Optional[int]]:
    """The token ids of the rows (None when not recorded) and the prompt length, checking that the rows
    cover the sequence from `start` to its last token but one (the last was sampled, never routed), or
    to its last token."""
    if prompt is None or output is None:
        return None, prompt_len if prompt is None else len(prompt)
    sequence = np.concatenate([prompt, output])
    n, r = len(sequence), rows.shape[0]
    if start > len(prompt):
        raise ContractError(f"{where}: the routing starts at token {start}, after the {len(prompt)} prompt tokens")
    if r not in (n - 1 - start, n - start) and not (n == 0 and r == 0):
        raise ContractError(f"{where}: {r} rows of routed experts; the {len(prompt)} prompt and {len(output)} output tokens "
                            f"from token {start} route {max(n - 1 - start, 0)}")
    return sequence[start:start + r], len(prompt)


# ----------------------------------------------------------------------------------------------
# requests as steps


@dataclass
class Request:
    """One completion's routing: `rows` [R, L, k] the experts of tokens start ... start + R - 1 of its
    sequence; `tokens` [R] their ids (None: not recorded); `prompt_len` how many of the sequence's
    tokens are the prompt (None: unknown); `where` names it in messages."""
    where: str
    rows: np.ndarray
    start: int = 0
    tokens: Optional[np.ndarray] = None
    prompt_len: Optional[int] = None


#: A parser: (where, object) -> the object's requests and how many of its completions had no routing.
Parser = Callable[[str, Dict[str, Any]], Tuple[List[Request], int]]


class RequestImport:
    """Requests read in order from a JSON-lines file (streamed; followed as it grows) or a .pt list,
    `group` per step event: each layer's load over the group's tokens, and probes of up to
    `probe_tokens` of its tokens with each completion as a document and prompt or output as domain.
    Step S holds requests S ... S + group - 1 (0-based, in file order)."""

    def __init__(self, path: str, parse: Parser, *, what: str, experts: Optional[int], top_k: Optional[int],
                 group: Optional[int], snapshot_every: int, probe_tokens: int, follow: bool) -> None:
        self.path, self.parse, self.what = path, parse, what
        self.pt = path.endswith(".pt")
        if self.pt and follow:
            raise ContractError(f"{path}: --follow reads a JSON-lines file as it grows; a .pt file is written whole")
        self.follow = follow
        self.group = DEFAULT_GROUP if group is None else group
        if self.group < 1:
            raise ContractError("--group must be at least 1")
        self.experts: Optional[int] = experts
        self.top_k_arg = top_k
        self.snapshot_every, self.probe_tokens = snapshot_every, probe_tokens
        self.blocks: List[int] = []
        self.top_k = 0
        self.layers = 0
        self.ids_known = False
        self.notes: List[str] = []
        self.unrouted = 0
        self._reader: Optional[JsonLines] = None if self.pt else JsonLines(path)
        self._loaded: Optional[List[Any]] = None
        self._next = 0
        self._head: List[Request] = []
        self._size = -1
        self._last_growth = time.monotonic()
        self._ordinal = 0
        self._groups = 0
        self._pending_last: Optional[Tuple[int, ProbeRows]] = None

    # -- reading ---------------------------------------------------------------------------------

    def _objects(self) -> Iterator[Tuple[str, Dict[str, Any]]]:
        """Every object not read yet: the JSON lines complete so far, or the .pt list once."""
        if self.pt:
            if self._loaded is None:
                data = load_pt(self.path)
                if isinstance(data, dict):
                    data = [data]
                if not isinstance(data, (list, tuple)):
                    raise ContractError(f"{self.path}: holds a {type(data).__name__}, expected a list of request dicts")
                self._loaded = list(data)
            while self._next < len(self._loaded):
                i = self._next
                self._next += 1
                obj = self._loaded[i]
                self._loaded[i] = None  # what was read is let go
                if not isinstance(obj, dict):
                    raise ContractError(f"{self.path}: request {i} is a {type(obj).__name__}, expected a dict")
                yield f"{self.path}: request {i}", obj
            return
        assert self._reader is not None
        size = self._reader.size()
        if size != self._size:
            self._size, self._last_growth = size, time.monotonic()
        for line, obj in self._reader.lines():
            yield f"{self.path}:{line}", obj
        if not self.follow:
            self._reader.finish()

    def _requests(self) -> Iterator[Request]:
        for where, obj in self._objects():
            requests, unrouted = self.parse(where, obj)
            self.unrouted += unrouted
            yield from requests

    # -- header ----------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Reads up to the first request with routing (following: waits for it) for the layers, k, the
        MoE layers and whether token ids are recorded; E from --experts or (one-shot) a scan."""
        first = self._first_request()
        while first is None:
            if not self.follow:
                raise ContractError(f"{self.path}: holds no {self.what} (none of its requests has routed experts)")
            time.sleep(0.25)
            first = self._first_request()
        _, self.layers, self.top_k = first.rows.shape
        if self.top_k_arg is not None and self.top_k_arg != self.top_k:
            raise ContractError(f"--top-k {self.top_k_arg}: the routed experts record top-{self.top_k}")
        routed = first.rows.any(axis=(0, 2)) if first.rows.shape[0] else np.zeros(self.layers, dtype=bool)
        self.blocks = [int(layer) for layer in np.flatnonzero(routed)]
        if not self.blocks:
            raise ContractError(f"{first.where}: every layer routes every token to expert 0 only: no MoE layer found")
        dense = [layer for layer in range(self.layers) if layer not in self.blocks]
        if dense:
            self.notes.append(f"layers {_ranges(dense)} hold only zeros in the first request: dense layers (no router), left out")
        self.ids_known = first.tokens is not None
        if self.experts is None:
            if self.follow:
                raise ContractError(f"the {self.what} do not say how many experts the model has: give --experts E")
            top = self._scan_max_index()
            self.experts = top + 1
            self.notes.append(f"E = {self.experts}: the largest expert index in the records plus one (no --experts given)")
        if not 1 <= self.experts <= MAX_EXPERTS:
            raise ContractError(f"{self.experts} experts: the contract allows 1...{MAX_EXPERTS}")
        if self.top_k > self.experts:
            raise ContractError(f"top-{self.top_k} routing exceeds the {self.experts} experts")

    def _first_request(self) -> Optional[Request]:
        """Reads whole objects into the head until one holds a request with routed tokens; that request."""
        for where, obj in self._objects():
            requests, unrouted = self.parse(where, obj)
            self.unrouted += unrouted
            self._head.extend(requests)
            found = next((r for r in requests if r.rows.shape[0]), None)
            if found is not None:
                return found
        return None

    def _scan_max_index(self) -> int:
        """The largest expert index of the MoE layers over every request (a second pass over the file)."""
        top = -1
        if self.pt:
            assert self._loaded is not None
            loaded = self._loaded
            rest = (r for i, o in enumerate(loaded) if isinstance(o, dict)
                    for r in self.parse(f"{self.path}: request {i}", o)[0])
            requests: Iterator[Request] = _chain(self._head, rest)
        else:
            scan = JsonLines(self.path)
            requests = (r for line, o in scan.lines() for r in self.parse(f"{self.path}:{line}", o)[0])
        for request in requests:
            if request.rows.shape[0] and request.rows.shape[1] == self.layers:
                top = max(top, int(request.rows[:, self.blocks, :].max()))
        if not self.pt:
            scan.close()
        return top

    # -- steps -----------------------------------------------------------------------------------

    def records(self) -> Iterator[StepRecords]:
        """A step event per `group` requests in file order (following: forever; a group the file left
        unfinished for IDLE_SECONDS is written as it is)."""
        acc = _Group(self, self._ordinal)
        head, self._head = self._head, []
        while True:
            for request in _chain(head, self._requests()):
                self._check(request)
                acc.add(request)
                if acc.requests == self.group:
                    yield self._emit(acc)
                    acc = _Group(self, self._ordinal)
            head = []
            if not self.follow:
                break
            if acc.requests and time.monotonic() - self._last_growth >= IDLE_SECONDS and not (self._reader and self._reader.torn):
                yield self._emit(acc)
                acc = _Group(self, self._ordinal)
            time.sleep(0.25)
        if acc.requests:
            yield self._emit(acc)

    def _check(self, request: Request) -> None:
        assert self.experts is not None
        rows = request.rows
        if rows.shape[0] == 0:
            return
        if rows.shape[1:] != (self.layers, self.top_k):
            raise ContractError(f"{request.where}: routed experts of shape {list(rows.shape)}, the first request's "
                                f"[tokens, {self.layers}, {self.top_k}]")
        moe = rows[:, self.blocks, :]
        if int(moe.max()) >= self.experts:
            raise ContractError(f"{request.where}: expert {int(moe.max())} is not below E = {self.experts}")
        if len(self.blocks) < self.layers:
            dense = np.delete(rows, self.blocks, axis=1)
            if dense.any():
                layer = next(l for l in range(self.layers) if l not in self.blocks and rows[:, l, :].any())
                raise ContractError(f"{request.where}: layer {layer} routes tokens, but held only zeros in the first "
                                    "request (read as a dense layer)")
        if self.ids_known != (request.tokens is not None):
            raise ContractError(f"{request.where}: " + ("no token ids, as the first request has" if self.ids_known else
                                "token ids, which the first request has not") + ": save every request with the same fields")

    def _emit(self, acc: "_Group") -> StepRecords:
        step = acc.first
        snap = self._groups == 0 or (self.snapshot_every > 0 and self._groups % self.snapshot_every == 0)
        self._groups += 1
        self._ordinal += acc.requests
        rows = acc.probe()
        self._pending_last = None if snap or rows is None else (step, rows)
        return StepRecords(step=step, counts=acc.counts, tokens=acc.tokens, probe=rows if snap else None)

    def final_snapshot(self) -> Optional[Tuple[int, ProbeRows]]:
        """The last step's probe when it was not snapshotted on the way."""
        last, self._pending_last = self._pending_last, None
        return last

    def summary_notes(self) -> List[str]:
        notes = list(self.notes)
        if self.unrouted:
            notes.append(f"{self.unrouted} completions without routed experts (aborted before a forward pass, or "
                         "the capture was off) left out")
        return notes


class _Group:
    """The requests of one step being gathered: counts per MoE layer and the first probe tokens."""

    def __init__(self, owner: RequestImport, first: int) -> None:
        assert owner.experts is not None
        self.owner, self.first = owner, first
        self.requests = 0
        self.tokens = 0
        self.counts = {b: np.zeros((1, owner.experts), dtype=np.int64) for b in owner.blocks}
        self.parts: List[Tuple[Request, int]] = []
        self.probed = 0

    def add(self, request: Request) -> None:
        owner = self.owner
        assert owner.experts is not None
        self.requests += 1
        n = request.rows.shape[0]
        if n == 0:
            return
        self.tokens += n
        for i, b in enumerate(owner.blocks):
            self.counts[b][0] += np.bincount(request.rows[:, b, :].reshape(-1), minlength=owner.experts)
        take = min(n, owner.probe_tokens - self.probed)
        if take > 0:
            self.parts.append((request, take))
            self.probed += take

    def probe(self) -> Optional[ProbeRows]:
        if not self.parts:
            return None
        blocks = self.owner.blocks
        experts = {b: np.concatenate([r.rows[:t, b, :] for r, t in self.parts]) for b in blocks}
        documents = np.concatenate([np.full(t, d, dtype=np.int32) for d, (_, t) in enumerate(self.parts)])
        domains = np.concatenate([_domains(r, t) for r, t in self.parts])
        tokens = None
        if self.owner.ids_known:
            tokens = np.concatenate([r.tokens[:t] for r, t in self.parts if r.tokens is not None])
        return ProbeRows(experts=experts, tokens=tokens, domains=domains, documents=documents)


def _domains(request: Request, take: int) -> np.ndarray:
    """0 (prompt) or 1 (output) per routed token; -1 when the prompt length is unknown."""
    if request.prompt_len is None:
        return np.full(take, -1, dtype=np.int32)
    positions = request.start + np.arange(take)
    return (positions >= request.prompt_len).astype(np.int32)


def _chain(head: List[Request], rest: Iterator[Request]) -> Iterator[Request]:
    yield from head
    yield from rest


def _ranges(values: List[int]) -> str:
    """[0, 1, 2, 5] -> "0-2, 5"."""
    out: List[str] = []
    start = prev = values[0]
    for v in values[1:] + [None]:  # type: ignore[list-item]
        if v is not None and v == prev + 1:
            prev = v
            continue
        out.append(str(start) if start == prev else f"{start}-{prev}")
        if v is not None:
            start = prev = v
    return ", ".join(out)


# ----------------------------------------------------------------------------------------------
# vLLM's requests


def parse_request(where: str, obj: Dict[str, Any]) -> Tuple[List[Request], int]:
    """One vLLM request (RequestOutput fields, or an OpenAI server response) as its completions' rows."""
    outputs = obj.get("outputs")
    key = "outputs"
    if outputs is None:
        outputs, key = obj.get("choices"), "choices"
    if not isinstance(outputs, (list, tuple)):
        raise ContractError(f"{where}: no 'outputs' (vLLM's RequestOutput) and no 'choices' (its OpenAI server's "
                            "response): not a request of this kind")
    start = obj.get("routed_experts_prompt_start", 0)
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        raise ContractError(f"{where}: routed_experts_prompt_start {start!r} is not a count of tokens")
    prompt = token_ids(where, obj.get("prompt_token_ids"), "prompt_token_ids")
    usage = obj.get("usage")
    usage_prompt = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    prompt_rows = obj.get("prompt_routed_experts")
    split = routed_rows(where, prompt_rows, "prompt_routed_experts") if prompt_rows is not None else None
    requests: List[Request] = []
    unrouted = 0
    for i, out in enumerate(outputs):
        here = f"{where}: {key}[{i}]"
        if not isinstance(out, dict):
            raise ContractError(f"{here} is a {type(out).__name__}, expected an object")
        if "routed_experts" not in out:
            raise ContractError(f"{here}: no field 'routed_experts' (vLLM's --enable-return-routed-experts)")
        if out["routed_experts"] is None:
            unrouted += 1
            continue
        rows = routed_rows(here, out["routed_experts"], "routed_experts")
        if split is not None:
            if split.shape[1:] != rows.shape[1:] and split.shape[0] and rows.shape[0]:
                raise ContractError(f"{here}: routed_experts of shape {list(rows.shape)} after prompt_routed_experts "
                                    f"of shape {list(split.shape)}")
            rows = np.concatenate([split, rows]) if rows.shape[0] else split
        p = prompt if prompt is not None else token_ids(here, out.get("prompt_token_ids"), "prompt_token_ids")
        o = token_ids(here, out.get("token_ids"), "token_ids")
        plen = usage_prompt if isinstance(usage_prompt, int) and not isinstance(usage_prompt, bool) else None
        tokens, plen = aligned(here, rows, start, p, o, plen)
        requests.append(Request(where=here, rows=rows, start=start, tokens=tokens, prompt_len=plen))
    return requests, unrouted


def make_source(src: str, args: argparse.Namespace) -> Tuple[RequestImport, Dict[str, Any], List[str], Any, int]:
    """The `import vllm` source, prepared, with run.json's `imported`, the domains, vocabulary and k."""
    if os.path.isdir(src):
        raise ContractError(f"{src}: a directory; give the .jsonl (or .pt) file of vLLM's request outputs")
    source = RequestImport(src, parse_request, what="routed experts", experts=args.experts, top_k=args.top_k,
                           group=args.group, snapshot_every=args.snapshot_every, probe_tokens=args.probe_tokens,
                           follow=args.follow)
    source.prepare()
    vocab, tokens = vocab_and_tokens(source.ids_known, args.tokenizer)
    imported = {"producer": "vLLM", "records": "routed experts", "source": src, "tokens": tokens}
    return source, imported, list(DOMAINS), vocab, source.top_k


