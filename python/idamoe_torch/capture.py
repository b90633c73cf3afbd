"""`python -m idamoe_torch capture`: the routers of a Hugging Face MoE causal LM and the hidden states that
reach them on a text, written as a one-snapshot run directory (docs/python.md, "Capturing a Hugging Face
model") that `idamoe inspect`, `idamoe diff`, `idamoe route` and `fit-ida` read.

Routers are found by structure, not by model name (capture_gates: a module's 2-D `weight` [E, D] in a
block that holds its E experts). How a gate routes is found from what the model does, not from config
keys: the text runs through the model with hooks on every gate (its input, its output) and on every
block's experts (capture_watch: the choices and gate weights the block hands them), and candidate rules
of the contract (capture_rules: softmax or sigmoid scores, a selection bias found beside the gate added
to the scores or the logits, renormalised or not, a gate scale, expert groups scored by their two best
experts or their best) are compared with the model's own routing on every token, streamed window by
window (capture_check, capture_decide). The first rule that reproduces every block on every token is
written; a model no rule reproduces, or whose routing cannot be seen, is refused with one line naming
what differs, unless `unverified` is asked for, and then run.json's `capture.unverified` says so.

This module is the command: loading the model, its tokens, the windows, and the run directory. The
names of the other capture modules that callers use are importable from here too.
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, TextIO, Tuple, Union

import torch
from torch import nn

from .capture_check import ForwardError, Progress, Routing, check_routing
from .capture_decide import TIE_RTOL, WEIGHT_TOL, BlockCheck, Tally, decide, tally
from .capture_gates import MAX_EXPERTS, FoundGate, expert_count, find_gates
from .capture_rules import (GROUP_NAMES, KEPT_GROUP_NAMES, SCALE_NAMES, TOP_K_NAMES, RuleKey, candidate_keys,
                            guessed_key, make_router)
from .capture_watch import Choices, GateWatch, experts_call, gate_output
from .layers import ContractError
from .run_lock import check_new_run_directory
from .run_writer import RunWriter

__all__ = ["BlockCheck", "CaptureReport", "Choices", "DTYPES", "ForwardError", "FoundGate", "GROUP_NAMES",
           "GateWatch", "KEPT_GROUP_NAMES", "MAX_EXPERTS", "Progress", "Routing", "RuleKey", "SCALE_NAMES",
           "TIE_RTOL", "TOP_K_NAMES", "Tally", "Tokens", "WEIGHT_TOL", "candidate_keys", "capture", "check_routing",
           "decide", "expert_count", "experts_call", "find_gates", "gate_output", "guessed_key", "make_router",
           "resolve_device", "tally", "tokenize", "vocabulary"]


#: The precisions `--dtype` names.
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(device: Optional[str]) -> str:
    """`cpu` or `cuda` (default: cuda when a GPU is present, else the CPU); cuda without a GPU is an error."""
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ContractError(f"--device {device}: cpu or cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ContractError(f"--device {device}: no CUDA device is available to PyTorch here (use --device cpu)")
    return device


@dataclass
class Tokens:
    """The text as model token ids, and how to show them."""

    ids: List[int]
    #: `bytes` or the token strings by id (docs/format.md, "Probes").
    vocab: Any
    #: Where the ids came from, shown as the probe's domain name: `tokenizer` or `bytes, no tokenizer`.
    source: str


def vocabulary(tokenizer: Any) -> List[str]:
    """A probe's `idamoe.vocab` from a Hugging Face tokenizer: every id's text, decoded one id at a time."""
    return [str(t) for t in tokenizer.batch_decode([[i] for i in range(len(tokenizer))])]


class _TextStart:
    """The start of a text, read only as far as asked: a string, or a text file read in chunks."""

    def __init__(self, text: Union[str, TextIO]) -> None:
        self.stream = None if isinstance(text, str) else text
        self.read = text if isinstance(text, str) else ""

    def prefix(self, chars: int, whole_words: bool) -> Tuple[str, bool]:
        """(at most `chars` characters from the start, whether that is the whole text). With `whole_words`
        a prefix that is not the whole text ends before a whitespace, so its last word is whole (a
        tokenizer gives the same tokens for it as within the whole text), when it holds one."""
        while self.stream is not None and len(self.read) <= chars:
            chunk = self.stream.read(max(chars + 1 - len(self.read), 1 << 16))
            if not chunk:
                self.stream = None
            self.read += chunk
        if len(self.read) <= chars:
            return self.read, True
        cut = chars
        while whole_words and cut > chars - 1024 and cut > 0 and not (self.read[cut].isspace()
                                                                     and not self.read[cut - 1].isspace()):
            cut -= 1  # back to a word's end within the last 1,024 characters, if there is one
        return self.read[:cut] if cut > chars - 1024 and cut > 0 else self.read[:chars], False

    def whole(self) -> str:
        """The whole text."""
        if self.stream is not None:
            self.read += self.stream.read()
            self.stream = None
        return self.read


def tokenize(model_dir: str, text: Union[str, TextIO], vocab_size: int, max_tokens: Optional[int] = None) -> Tokens:
    """The model's tokenizer on `text` (a string or an open text file) when DIR holds one (token strings
    decoded one id at a time), else the UTF-8 bytes as ids (needs a vocabulary of at least 256). With
    `max_tokens` only the start of the text that gives them is read and tokenized: a prefix ending at a
    word's end, from 8 characters a token and doubled until it gives more than `max_tokens` + 1 tokens
    (the last ones may differ from the whole text's) or is the whole text; the ids cut to `max_tokens`."""
    from transformers import AutoTokenizer

    start = _TextStart(text)
    tokenizer = None
    names = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")
    if any(os.path.exists(os.path.join(model_dir, n)) for n in names):
        tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    if tokenizer is not None:
        if max_tokens is None:
            return Tokens([int(i) for i in tokenizer(start.whole())["input_ids"]], vocabulary(tokenizer), "tokenizer")
        chars = max(4096, 8 * max_tokens)
        while True:
            part, whole = start.prefix(chars, True)
            ids = [int(i) for i in tokenizer(part)["input_ids"]]
            if whole or len(ids) > max_tokens + 1:
                return Tokens(ids[:max_tokens], vocabulary(tokenizer), "tokenizer")
            chars *= 2
    if vocab_size < 256:
        raise ContractError(f"{model_dir}: no tokenizer and a vocabulary of {vocab_size} (< 256): the text's bytes "
                            "cannot be its token ids")
    # a character is at least one byte: max_tokens characters are enough
    ids = list((start.prefix(max_tokens, False)[0] if max_tokens is not None else start.whole()).encode("utf-8"))
    return Tokens(ids[:max_tokens] if max_tokens is not None else ids, "bytes", "bytes, no tokenizer")


@dataclass
class CaptureReport:
    """What `capture` wrote and checked."""

    out: str
    tokens: int
    gates: Dict[int, FoundGate]
    token_source: str
    checks: Dict[int, BlockCheck]
    #: The router kind written (`softmax` or `sigmoid-bias`) and its routing in words.
    kind: str
    rule: str
    notes: List[str]
    #: True when written with `unverified` and not checked (or not matched) on every token.
    unverified: bool = False
    #: Tokens per second through the model (the forward passes alone).
    tokens_per_second: float = 0.0


def _load(model_dir: str, dtype: torch.dtype, device: Optional[str], device_map: Optional[str]) -> Tuple[Any, nn.Module, str]:
    """(config, the model in eval mode, where its inputs go)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    if not os.path.isdir(model_dir):
        raise ContractError(f"{model_dir}: not a directory (a Hugging Face model saved with save_pretrained)")
    config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
    if device_map is not None:
        if device_map != "auto":
            raise ContractError(f"--device-map {device_map}: only auto (accelerate spreads the model over the devices)")
        if importlib.util.find_spec("accelerate") is None:
            raise ContractError("--device-map auto needs the accelerate package: pip install accelerate")
        model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True, dtype=dtype, device_map="auto").eval()
        first = model.get_input_embeddings().weight.device
        return config, model, str(first)
    where = resolve_device(device)
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True, dtype=dtype).eval()
    return config, model.to(where), where


def capture(model_dir: str, text: Union[str, TextIO], out: str, *, max_tokens: int = 2048, window: int = 256,
            batch: int = 4, dtype: torch.dtype = torch.float32, device: Optional[str] = None,
            device_map: Optional[str] = None, unverified: bool = False, log: Callable[[str], None] = lambda _: None,
            progress: Optional[Progress] = None) -> CaptureReport:
    """Loads the causal LM in `model_dir` (local files only), runs the first `max_tokens` tokens of `text` (a
    string, or an open text file read only as far as they need) through it in windows of `window` tokens
    (`batch` windows a forward), finds how each gate routes by
    comparing rules of the contract with what each block hands its experts on every token, and writes run
    directory `out`: the routers (snapshot step 0) and the hidden states that reached them (its probe),
    documents = windows. Refuses (one-line ContractError) an `out` that is not a new path or an empty
    directory before the model loads, a model whose routing no rule reproduces on every token or cannot
    be seen, unless `unverified`, and names the module when the model's own forward fails."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # stderr holds errors (and the progress line) only
    if window < 1 or max_tokens < 1 or batch < 1:
        raise ContractError(f"window ({window}), batch ({batch}) and max tokens ({max_tokens}) must be at least 1")
    if dtype not in WEIGHT_TOL:
        raise ContractError(f"dtype {dtype}: float32, bfloat16 or float16")
    check_new_run_directory(out)  # before the model loads; RunWriter checks again as it creates the run
    config, model, where = _load(model_dir, dtype, device, device_map)
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    hidden_size = int(text_config.hidden_size)
    gates = find_gates(model, hidden_size)
    positions = getattr(text_config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        window = min(window, positions)  # each window is one sequence the model can take
    tokens = tokenize(model_dir, text, int(text_config.vocab_size), max_tokens)
    ids = tokens.ids
    if not ids:
        raise ContractError("the text gives no tokens")
    n_tokens = len(ids)
    log(f"{len(gates)} MoE routers over {next(iter(gates.values())).experts} experts in blocks "
        f"{','.join(map(str, gates))}; {n_tokens} tokens ({tokens.source}), windows of {window}, {batch} a forward, "
        f"{str(dtype).replace('torch.', '')} on {where}")

    windows = [ids[s:s + window] for s in range(0, n_tokens, window)]
    documents = torch.cat([torch.full((len(p),), i, dtype=torch.int64) for i, p in enumerate(windows)])
    routing = check_routing(model, gates, windows, text_config, device=where, dtype=dtype, batch=batch,
                            unverified=unverified, progress=progress or Progress(n_tokens))
    written, notes, checks, is_unverified = routing.routers, routing.notes, routing.checks, routing.unverified
    probe, forward_seconds = routing.hidden, routing.forward_seconds
    source = {"modelDir": os.path.abspath(model_dir),
              "architecture": (getattr(config, "architectures", None) or [type(model).__name__])[0],
              "gates": {str(b): g.name for b, g in gates.items()}, "notes": notes, "tokens": tokens.source, "window": window}
    if is_unverified:
        source["unverified"] = True
    parameters = sum(p.numel() for p in model.parameters())
    del model  # the probe and the written routers are all that is kept
    writer = RunWriter(out, written, probe_tokens=torch.tensor(ids, dtype=torch.int64), probe_forward=lambda _t: None,
                       probe_documents=documents, probe_domains=torch.zeros(n_tokens, dtype=torch.int64),
                       domain_names=[tokens.source], vocab=tokens.vocab, capture=source, parameters=parameters)
    with writer:
        writer.snapshot(0, hidden=probe)
        writer.finish(0)
    kind = next(iter(written.values())).kind
    return CaptureReport(out, n_tokens, gates, tokens.source, checks, kind, notes[0], notes, is_unverified,
                         n_tokens / forward_seconds if forward_seconds > 0 else 0.0)
